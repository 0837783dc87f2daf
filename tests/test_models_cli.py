"""`aum models list / info / convert`."""

import json

import torch

from aum.cli import main
from aum.models import create_model, from_pretrained, to_official_state_dict


def test_models_list_and_info(capsys):
    assert main(["models", "list", "aum_*"]) == 0
    out = capsys.readouterr().out
    assert "aum_base" in out and "92,107,535" in out and "ast_base" not in out
    assert main(["models", "info", "aum_small", "--set", "aum_type=v2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 25_539_215 and info["patch_grid"] == [8, 64] and info["config"]["aum_type"] == "v2"


def test_models_convert_and_errors(tmp_path, capsys):
    src = create_model("aum_tiny", depth=2)
    torch.save({"module." + k: v for k, v in to_official_state_dict(src).items()}, tmp_path / "aum.pth")
    argv = ["models", "convert", str(tmp_path / "aum.pth"), str(tmp_path / "out"), "--model", "aum_tiny",
            "--set", "depth=2", "--input-frames", "128", "--num-classes", "35"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "8x64 -> 8x8" in out and "head.weight" in out
    model = from_pretrained(tmp_path / "out")
    assert model.config.input_frames == 128 and model.meta["converted_from"].endswith("aum.pth")
    assert main(argv[:6] + ["--set", "depth=2", "--set", "aum_type=v2"]) == 1  # v1 checkpoint into v2: refused
    assert "MISMATCH" in capsys.readouterr().err
    assert main(["models", "info", "aum_tiny", "--set", "nope=1"]) == 1
