"""Plots return matplotlib figures drawn from the data given, and save as PNG."""

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from fexlab.eval.plots import (
    action_unit_bars,
    action_unit_timeline,
    class_balance,
    confusion_heatmaps,
    per_class_f1,
    read_metrics_log,
    reliability_diagram,
    sample_grid,
    save_figure,
    training_curves,
)
from fexlab.registry import EMOTIONS, InputError


def test_class_balance_draws_one_bar_per_emotion_in_label_order(tmp_path):
    figure = class_balance({"sad": 3, "happy": 10})
    heights = [bar.get_height() for bar in figure.axes[0].patches]
    assert heights == [0, 0, 0, 10, 3, 0, 0]
    assert "total 13" in figure.axes[0].get_title()
    path = save_figure(figure, tmp_path / "sub" / "balance.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_confusion_heatmaps_write_the_counts_and_the_row_fractions():
    counts = np.diag([5] * 7)
    counts[0, 1] = 5
    normalized = counts / counts.sum(axis=1, keepdims=True)
    figure = confusion_heatmaps(counts, normalized, title="demo")
    left, right = figure.axes[:2]
    assert "5" in [t.get_text() for t in left.texts]
    assert "0.50" in [t.get_text() for t in right.texts]
    assert [t.get_text() for t in left.get_xticklabels()] == list(EMOTIONS)
    with pytest.raises(InputError, match="7x7"):
        confusion_heatmaps(np.eye(3), np.eye(3))


def test_per_class_f1_has_a_bar_per_model_and_emotion():
    table = {e: {"f1": i / 10} for i, e in enumerate(EMOTIONS)}
    figure = per_class_f1({"a": table, "b": table})
    heights = sorted(round(p.get_height(), 3) for p in figure.axes[0].patches if p.get_height() > 0)
    assert heights == sorted([i / 10 for i in range(1, 7)] * 2)


def test_reliability_diagram_plots_each_curve_and_names_its_ece():
    curve = {"confidence": [0.3, 0.9], "accuracy": [0.25, 0.6], "count": [10, 30], "ece": 0.2}
    figure = reliability_diagram({"model": curve})
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "model (ECE 0.200)" in labels
    assert isinstance(figure, Figure)


def test_sample_grid_is_emotions_by_seeds():
    rows = {e: [np.full((8, 8, 3), 10 * i, np.uint8) for i in range(3)] for e in EMOTIONS[:2]}
    figure = sample_grid(rows, ["seed 0", "seed 1", "seed 2"])
    assert len(figure.axes) == 6
    assert figure.axes[0].get_ylabel() == "angry" and figure.axes[2].get_title() == "seed 2"
    with pytest.raises(InputError):
        sample_grid({})


def test_training_curves_read_a_run_log_classifier_or_gan(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = [{"split": s, "epoch": e, "step": 10 * e, "loss": 1 / (e + 1), "accuracy": e / 5, "time": e}
               for e in range(4) for s in ("train", "val")]
    # the trainer's final test record: its single figures (and its count n) are not curves
    records.append({"split": "test", "epoch": 3, "accuracy": 0.7, "balanced_accuracy": 0.7, "n": 100})
    # a killed run may leave half a line at the end
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + '\n{"split": "tr')
    assert read_metrics_log(run) == records
    figure = training_curves(run)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    assert figure.axes[0].get_xlabel() == "epoch" and len(figure.axes[0].get_lines()) == 2

    gan = [{"split": "train", "step": s, "g_loss": 2.0 - s / 10, "d_loss": 0.7} for s in range(5)]
    figure = training_curves(gan)
    assert [ax.get_title() for ax in figure.axes] == ["g_loss", "d_loss"]
    assert figure.axes[0].get_xlabel() == "step"
    with pytest.raises(InputError, match="no training log"):
        training_curves(tmp_path / "missing")


def test_confusion_panels_draw_one_heatmap_per_model_and_refuse_other_shapes():
    from fexlab.eval.plots import confusion_panels

    matrices = {name: np.eye(7) for name in ("a", "b", "c", "d")}
    figure = confusion_panels(matrices, per_row=3)
    titled = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titled == ["a", "b", "c", "d"] and len(figure.axes) == 6  # 2 rows of 3, the last two left empty
    with pytest.raises(InputError, match="confusion matrix of a is"):
        confusion_panels({"a": np.eye(3)})


def test_emotion_timeline_has_a_panel_per_track_and_says_when_there_is_none():
    from fexlab.eval.plots import emotion_timeline

    probs = np.tile(np.eye(7)[3], (4, 1))
    figure = emotion_timeline({"face 1": ([0, 0.5, 1, 1.5], probs), "face 2": ([1, 2], probs[:2])})
    assert [ax.get_title(loc="left") for ax in figure.axes] == ["face 1: mostly happy", "face 2: mostly happy"]
    empty = emotion_timeline({})
    assert "no face was tracked" in empty.axes[0].texts[0].get_text()


def test_probability_bars_legend_covers_no_bar():
    """With several classifiers the legend names them above the charts, clear of every bar."""
    import numpy as np

    from fexlab.eval.plots import probability_bars

    sure = np.array([0.9, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01])  # the top bar reaches the right edge
    faces = [{name: np.roll(sure, k) for name in ("mini_xception.ferplus", "convnext", "vit")} for k in range(5)]
    figure = probability_bars(faces)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    legends = [legend.get_window_extent(renderer) for legend in figure.legends]
    assert len(legends) == 1 and all(ax.get_legend() is None for ax in figure.axes)
    bars = [patch.get_window_extent(renderer) for ax in figure.axes for patch in ax.patches]
    assert bars and not any(legends[0].overlaps(bar) for bar in bars)
    texts = [legend.get_text() for legend in figure.legends[0].get_texts()]
    assert texts == ["mini_xception.ferplus", "convnext", "vit"]


def test_confusion_panels_numbers_are_whole_percentages_large_enough_to_read():
    from fexlab.eval.plots import CONFUSION_FONT_SIZE, confusion_panels

    matrix = np.full((7, 7), 0.02)
    np.fill_diagonal(matrix, 0.88)
    figure = confusion_panels({"a": matrix, "b": matrix})
    texts = [text for text in figure.axes[0].texts]
    assert [t.get_text() for t in texts[:8]] == ["88", "2", "2", "2", "2", "2", "2", "2"]
    # in the app a panel is about 420 px wide: numbers of at least 14 px
    pixels_per_point = 420 / (figure.get_figwidth() / 2 * 72)
    assert CONFUSION_FONT_SIZE * pixels_per_point >= 14 and all(t.get_fontsize() == CONFUSION_FONT_SIZE for t in texts)


def test_action_unit_bars_show_units_in_facs_order_and_the_strongest_blendshapes():
    analysis = {"action_units": {"AU12": 0.9, "AU1": 0.1, "AU4": 0.0},
                "blendshapes": {f"shape{i}": i / 20 for i in range(15)}}
    figure = action_unit_bars([analysis, analysis], ["face 1", "face 2"], top_blendshapes=3, note="estimates")
    units, shapes = figure.axes[:2]
    assert [t.get_text() for t in units.get_yticklabels()] == ["AU1", "AU4", "AU12"]
    assert [t.get_text() for t in shapes.get_yticklabels()] == ["shape14", "shape13", "shape12"]
    assert units.get_title() == "face 1: action units" and len(figure.axes) == 4
    assert figure.get_supxlabel() == "estimates"
    assert action_unit_bars([{}]).axes[0].texts[0].get_text() == "no analysed face"


def test_action_unit_timeline_draws_each_tracks_strongest_units():
    frames = [{"AU1": 0.1, "AU6": 0.5, "AU12": t / 4} for t in range(4)]
    figure = action_unit_timeline({"face track 1": ([0, 1, 2, 3], frames)}, strongest=2)
    [axes] = figure.axes
    assert [line.get_label() for line in axes.get_lines()] == ["AU6", "AU12"]
    assert list(axes.get_lines()[1].get_ydata()) == [0, 0.25, 0.5, 0.75]
    assert "no face" in action_unit_timeline({}).axes[0].texts[0].get_text()
