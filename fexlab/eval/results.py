"""The results store: one JSON file per evaluated model, and the leaderboard built from them all.

A result records what was measured and on what: model spec, plugin and version, checkpoint,
the data set (its description and whether it is synthetic), split, seed, metrics, speed and the
package versions. Files are named by kind, model, data, split and seed, so re-running the same
evaluation replaces its file while every other result in the folder stays on the leaderboard.
The leaderboard is a pandas DataFrame (for the app), a CSV and markdown (for people).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import re
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fexlab.registry.checkpoint import atomic_write_text
from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError

__all__ = [
    "CLASSIFIER_COLUMNS",
    "EDITOR_COLUMNS",
    "GENERATOR_COLUMNS",
    "RESULT_SCHEMA",
    "leaderboard",
    "leaderboard_markdown",
    "load_results",
    "package_versions",
    "recall_beside_real",
    "result_filename",
    "slugify",
    "warnings_by_text",
    "write_leaderboard",
    "write_result",
]

RESULT_SCHEMA = 1
_PACKAGES = ("fexlab", "torch", "numpy", "scikit-learn", "scipy", "torchmetrics", "timm", "transformers", "diffusers")

#: Leaderboard columns shown for classifiers and for generators, after the common ones.
CLASSIFIER_COLUMNS = ("accuracy", "accuracy_ci", "balanced_accuracy", "macro_f1", "macro_f1_ci", "weighted_f1",
                      "top2_accuracy", "ece")
#: A classifier's figures on the split's posed-like faces (FER+: 8 or more of 10 votes agree), where the data has votes.
POSED_LIKE_COLUMNS = ("posed_like_n", "posed_like_accuracy", "posed_like_macro_f1")
#: A generator's judge figures sit beside the same judge's on the split's real faces
#: (``judge_real_*``): generated faces are balanced across emotions, so the fair comparison of
#: ``expression_accuracy`` is ``judge_real_balanced_accuracy`` (the mean recall over emotions).
GENERATOR_COLUMNS = ("judge", "expression_accuracy", "expression_macro_f1", "expression_min_recall",
                     "judge_real_accuracy", "judge_real_balanced_accuracy", "judge_real_macro_f1", "fid", "kid",
                     "diversity", "identity_consistency")
#: An editor's figures: the judge's accuracy on the target emotion of real faces edited to each
#: other emotion (balanced over targets), identity kept (SSIM to the input, distance in the
#: judge's features), realism (Frechet distance to real faces in ImageNet features), the
#: reconstruction when the target is the face's own emotion, and the same judge's balanced
#: accuracy on the split's real faces beside them. Per target emotion, the leaderboard also has
#: the edits' recall (``recall_EMOTION``) beside the judge's on the real faces of that emotion
#: (``real_recall_EMOTION``): :func:`recall_beside_real`. Realism against the no-edit control
#: (``fexlab.eval.editing.realism_control``, the targets averaged): ``realism_toward_real``, the
#: share of the way the edits moved from the unedited faces' distance to real faces of the target
#: toward the real-vs-real floor, and the real-versus-edited probe's AUC beside the same probe on
#: the unedited faces.
EDITOR_COLUMNS = ("judge", "target_accuracy", "target_macro_f1", "target_min_recall", "judge_real_balanced_accuracy",
                  "ssim", "judge_feature_distance", "realism_fid", "realism_toward_real", "probe_auc_edited",
                  "probe_auc_unedited", "reconstruction_l1", "reconstruction_ssim")
_RECALL_COLUMNS = tuple(f"{kind}_{emotion}" for emotion in EMOTIONS for kind in ("recall", "real_recall"))
_COMMON = ("kind", "model", "data", "synthetic", "split", "data_fingerprint", "n", "seed")
_SPEED = ("latency_ms", "throughput_per_s", "parameters", "created", "file")


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on (absent ones are skipped)."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def slugify(text: str) -> str:
    """A file-name-safe form of ``text`` (letters, digits, dots; anything else becomes "-")."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", str(text)).strip("-")[:80] or "x"


def result_filename(result: Mapping[str, Any]) -> str:
    """``{kind}--{model}--{data}--{split}--seed{seed}.json`` with unsafe characters replaced."""
    data = result["data"]
    parts = [result["kind"], result["model"], data.get("source") or data["name"], data["split"],
             *([f"via-{data['detector']}"] if data.get("detector") else []), f"seed{result['seed']}"]
    return "--".join(slugify(p) for p in parts) + ".json"


def write_result(result: Mapping[str, Any], folder: str | Path) -> Path:
    """Write one result (atomically) into ``folder``; adds schema, time and versions if missing."""
    payload = {"schema": RESULT_SCHEMA, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "versions": package_versions(), **result}
    path = Path(folder) / result_filename(payload)
    atomic_write_text(path, json.dumps(payload, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every result file in ``folder`` (oldest first); files that are not results are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    results = []
    for path in sorted(folder.glob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(payload, dict) and payload.get("schema") == RESULT_SCHEMA and payload.get("kind") in (
            "classifier", "generator", "editor"
        ):
            payload["file"] = path.name
            results.append(payload)
    return sorted(results, key=lambda r: (str(r.get("created")), r["file"]))


def warnings_by_text(results: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each warning of ``results`` (figures that mean little: a tiny split, few faces per emotion)
    once, with the models it applies to, in the order they come."""
    grouped: dict[str, list[str]] = {}
    for result in results:
        for warning in result.get("warnings") or []:
            grouped.setdefault(warning, []).append(str(result["model"]))
    return grouped


def _row(result: Mapping[str, Any]) -> dict[str, Any]:
    data, metrics, speed = result["data"], result.get("metrics", {}), result.get("speed", {})
    row: dict[str, Any] = {
        "kind": result["kind"], "model": result["model"], "data": data["name"], "synthetic": bool(data["synthetic"]),
        "split": data["split"], "data_fingerprint": data.get("fingerprint"), "n": data.get("n"), "seed": result["seed"],
    }
    if result["kind"] == "classifier":
        row.update({key: metrics.get(key) for key in CLASSIFIER_COLUMNS if not key.endswith("_ci")})
        row["accuracy_ci"] = _interval(metrics.get("accuracy_ci"))
        row["macro_f1_ci"] = _interval(metrics.get("macro_f1_ci"))
        posed = metrics.get("posed_like") or {}
        row["posed_like_n"], row["posed_like_accuracy"] = posed.get("n"), posed.get("accuracy")
        row["posed_like_macro_f1"] = posed.get("macro_f1")
    elif result["kind"] == "editor":
        real = metrics.get("judge_on_real") or {}
        recalls = [c["recall"] for c in ((metrics.get("target") or {}).get("per_class") or {}).values() if c.get("support")]
        row.update({
            "judge": result.get("judge"), "target_accuracy": metrics.get("judge_accuracy"),
            "target_macro_f1": metrics.get("judge_macro_f1"), "target_min_recall": min(recalls) if recalls else None,
            "judge_real_balanced_accuracy": real.get("balanced_accuracy"),
            **{key: metrics.get(key) for key in ("ssim", "judge_feature_distance", "realism_fid", "reconstruction_l1",
                                                 "reconstruction_ssim")},
        })
        control = (metrics.get("realism_control") or {}).get("overall") or {}
        row["realism_toward_real"] = control.get("toward_real")
        row["probe_auc_edited"], row["probe_auc_unedited"] = control.get("probe_auc_edited"), control.get(
            "probe_auc_unedited")
        for emotion, pair in (metrics.get("target_recall_vs_real") or {}).items():
            row[f"recall_{emotion}"], row[f"real_recall_{emotion}"] = pair.get("edits"), pair.get("real")
    else:
        identity = metrics.get("identity") or {}
        kid = (metrics.get("kid") or {}).get("overall")
        real = metrics.get("judge_on_real") or {}
        recalls = [c["recall"] for c in ((metrics.get("expression") or {}).get("per_class") or {}).values()
                   if c.get("support")]
        row.update({
            "judge": result.get("judge"),
            "expression_accuracy": metrics.get("expression_accuracy"),
            "expression_macro_f1": metrics.get("expression_macro_f1"),
            "expression_min_recall": min(recalls) if recalls else None,
            "judge_real_accuracy": real.get("accuracy"),
            "judge_real_balanced_accuracy": real.get("balanced_accuracy"),
            "judge_real_macro_f1": real.get("macro_f1"),
            "fid": (metrics.get("fid") or {}).get("overall"),
            "kid": kid[0] if kid else None,
            "diversity": (metrics.get("diversity") or {}).get("overall"),
            "identity_consistency": identity.get("consistency"),
        })
    row.update({
        "latency_ms": speed.get("latency_ms"), "throughput_per_s": speed.get("throughput_per_s"),
        "parameters": result.get("parameters"), "created": result.get("created"), "file": result.get("file"),
    })
    return row


def _interval(value: Any) -> str | None:
    return f"[{value[0]:.3f}, {value[1]:.3f}]" if value else None


def leaderboard(results: str | Path | Iterable[Mapping[str, Any]]):
    """A pandas DataFrame with one row per result (a results folder or loaded results).

    Classifiers come first, best accuracy first within each data set and split; then generators,
    best expression accuracy first. Columns that do not apply to a kind are empty.
    """
    import pandas as pd

    items = load_results(results) if isinstance(results, (str, Path)) else list(results)
    columns = list(dict.fromkeys([*_COMMON, *CLASSIFIER_COLUMNS, *POSED_LIKE_COLUMNS, *GENERATOR_COLUMNS,
                                  *EDITOR_COLUMNS, *_SPEED,
                                  *_RECALL_COLUMNS]))
    frame = pd.DataFrame([_row(r) for r in items], columns=columns)
    if frame.empty:
        return frame
    frame["_order"] = frame["kind"].map({"classifier": 0, "generator": 1, "editor": 2})
    frame["_score"] = frame["accuracy"].fillna(frame["expression_accuracy"]).fillna(frame["target_accuracy"]).fillna(-1.0)
    frame = frame.sort_values(["_order", "data", "split", "_score"], ascending=[True, True, True, False])
    return frame.drop(columns=["_order", "_score"]).reset_index(drop=True)


_SHOWN = {
    "classifier": ["model", "accuracy", "accuracy_ci", "balanced_accuracy", "macro_f1", "macro_f1_ci", "weighted_f1",
                   "top2_accuracy", "ece", "latency_ms", "throughput_per_s", "parameters"],
    "generator": ["model", *GENERATOR_COLUMNS, "latency_ms", "throughput_per_s", "parameters"],
    "editor": ["model", *EDITOR_COLUMNS, "latency_ms", "throughput_per_s", "parameters"],
}


def recall_beside_real(frame):
    """Per editor row of ``frame`` (a leaderboard), each target emotion's recall of the edits
    beside the judge's recall of real faces of that emotion, as "edits / real" text ("0.42 /
    0.61"; "-" where there is none): a DataFrame with the emotions as columns, in row order."""
    import pandas as pd

    def pair(edits: Any, real: Any) -> str:
        return " / ".join("-" if v is None or v != v else f"{v:.2f}" for v in (edits, real))

    return pd.DataFrame({emotion: [pair(row[f"recall_{emotion}"], row[f"real_recall_{emotion}"])
                                   for _, row in frame.iterrows()] for emotion in EMOTIONS}, index=frame.index)


def leaderboard_markdown(frame) -> str:
    """Markdown: one table per kind and data (name, split, fingerprint), headed by the data it came from."""
    if frame.empty:
        return "No results yet.\n"
    parts = []
    for kind, title in (("classifier", "Classifiers"), ("generator", "Generators (scored by the judge)"),
                        ("editor", "Face editors: real faces edited to each other emotion (scored by the judge)")):
        rows = frame[frame["kind"] == kind]
        keys = ["data", "split", "synthetic", "data_fingerprint"]
        for (data, split, synthetic, fingerprint), group in rows.fillna({"data_fingerprint": "-"}).groupby(keys, sort=False):
            note = " (SYNTHETIC faces, not comparable with real-photo results)" if synthetic else ""
            parts.append(f"### {title}: {data}, split {split}, data fingerprint {fingerprint}{note}\n")
            columns = list(_SHOWN[kind])
            if kind == "classifier" and group["posed_like_accuracy"].notna().any():
                columns[columns.index("ece") + 1:columns.index("ece") + 1] = POSED_LIKE_COLUMNS
            shown = group[columns].copy()
            shown["parameters"] = shown["parameters"].map(lambda v: f"{int(v):,}" if v == v and v is not None else "")
            parts.append(shown.to_markdown(index=False, floatfmt=".4g", missingval="") + "\n")
            if kind == "editor":
                parts.append("Recall of each target emotion: the edits' / the judge's on real faces of that emotion\n")
                recall = recall_beside_real(group).assign(model=group["model"])[["model", *EMOTIONS]]
                parts.append(recall.to_markdown(index=False) + "\n")
    return "\n".join(parts)


def write_leaderboard(results_folder: str | Path, out: str | Path) -> tuple[Any, Path, Path]:
    """Build the leaderboard of every result in ``results_folder``; write ``out``/leaderboard.md
    and leaderboard.csv. Returns (DataFrame, markdown path, CSV path)."""
    out = Path(out)
    frame = leaderboard(results_folder)
    if frame.empty:
        raise InputError(f"no results in {results_folder} to build a leaderboard from")
    md, csv = out / "leaderboard.md", out / "leaderboard.csv"
    atomic_write_text(md, "# Leaderboard\n\n" + leaderboard_markdown(frame))
    atomic_write_text(csv, frame.to_csv(index=False))
    return frame, md, csv
