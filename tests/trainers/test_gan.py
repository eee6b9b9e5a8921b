"""What the GAN trainers share: the warmed-up EMA copy of the generator, the reproduce command."""

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fexlab.trainers.gan import ema_copy


def _follow(average, model, steps):
    for step in range(steps):
        with torch.no_grad():
            model.weight.fill_(float(step + 1))
        average.update_parameters(model)
    return float(average.module.weight.mean())


def test_the_warmed_up_average_follows_early_training_and_settles_to_the_decay():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2, bias=False)
    warm = _follow(ema_copy(model, 0.999), model, 200)
    plain = _follow(AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True), model, 200)
    assert warm > 150 > plain  # the weights went 1 -> 200: plain EMA still sits near the start
    # late updates use the decay itself: one more step moves the average by (1 - 0.999) of the gap
    average = ema_copy(model, 0.9)
    _follow(average, model, 1000)
    before = float(average.module.weight.mean())
    with torch.no_grad():
        model.weight.fill_(before + 100.0)
    average.update_parameters(model)
    assert abs(float(average.module.weight.mean()) - (before + 10.0)) < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["cgan", "stargan"])
def test_a_gan_run_summary_has_the_command_that_reproduces_it(trainer, tmp_path, monkeypatch):
    """As classifier runs do: train_config.json and the Train tab's summary give `fexlab train ...`."""
    import json

    from fexlab.app.train import show_run
    from tests.app.conftest import point_folders
    from tests.trainers import test_cgan_trainer, test_stargan_trainer

    folders = point_folders(tmp_path / "srv", monkeypatch)
    module = {"cgan": test_cgan_trainer, "stargan": test_stargan_trainer}[trainer]
    out = folders["runs"] / trainer
    assert module._run([*module.TINY, "--epochs", "1", "--out", str(out)]) == 0
    command = json.loads((out / "train_config.json").read_text())["resolved"]["command"]
    assert command.startswith(f"fexlab train {trainer} ") and "--epochs 1" in command and "--resolution 16" in command
    *_, summary = show_run(f"runs/{trainer}")
    assert f"- **reproduce**: `{command}`" in summary
