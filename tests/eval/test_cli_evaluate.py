"""``fexlab evaluate``: leaderboard printed and written; a bad --out fails before any work."""

import json

import pytest

from fexlab import cli


@pytest.fixture(scope="module")
def vit_checkpoint(tmp_path_factory):
    import torch

    from fexlab.plugins.vit import ViT

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vit") / "ckpt"
    ViT.from_config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32).save_pretrained(path)
    return path


def test_evaluate_prints_and_writes_the_leaderboard(vit_checkpoint, tmp_path, capsys):
    out = tmp_path / "eval"
    status = cli.main(["evaluate", "--classifier", f"vit:{vit_checkpoint}", "--data", "synthetic:n=140,size=48",
                       "--out", str(out), "--no-plots"])
    printed, err = capsys.readouterr()
    assert status == 0
    assert f"vit:{vit_checkpoint}" in printed and "SYNTHETIC" in printed
    # 14 test faces, 2 per emotion: the figures mean little, and the CLI and the result both say so
    assert err.strip().splitlines()[-2].startswith(f"fexlab: warning (vit:{vit_checkpoint}): only 14 faces in the test")
    assert "only 2 faces of each emotion: the recall" in err.strip().splitlines()[-1]
    [result] = [json.loads(path.read_text()) for path in (out / "results").glob("*.json")]
    assert result["warnings"][0].startswith("only 14 faces in the test split")
    assert (out / "leaderboard.md").read_text().count(f"vit:{vit_checkpoint}") == 1
    assert (out / "leaderboard.csv").is_file() and len(list((out / "results").glob("*.json"))) == 1
    assert not (out / "plots").exists()


def test_an_unwritable_out_fails_before_any_work(tmp_path, capsys, monkeypatch):
    from fexlab.eval import harness
    monkeypatch.setattr(harness, "evaluate", lambda *a, **k: pytest.fail("evaluation started"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status = cli.main(["evaluate", "--classifier", "mini_xception", "--data", "synthetic",
                       "--out", str(blocker / "out")])
    assert status == 2
    assert "cannot write to the output folder" in capsys.readouterr().err
    assert cli.main(["evaluate", "--data", "synthetic", "--out", str(tmp_path / "x")]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err
