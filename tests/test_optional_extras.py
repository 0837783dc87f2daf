"""A missing optional extra is one line naming the extra to install, from the library and from the CLI: never a
traceback from deep inside a dependency."""

import importlib.util

import pytest
import torch

from aum.cli import main
from aum.errors import UnavailableError, require_extra
from aum.inference.export import export_model, onnx_session
from aum.inference.serve import create_app
from aum.models import create_model, save_pretrained


@pytest.fixture
def without(monkeypatch):
    """`without("fastapi", ...)`: those modules look uninstalled to `require_extra`."""
    real = importlib.util.find_spec

    def hide(*names):
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a))

    return hide


def test_require_extra_names_the_modules_and_the_extra(without):
    without("fastapi", "uvicorn")
    with pytest.raises(UnavailableError, match=r"^aum serve needs fastapi, uvicorn \(not installed\): "
                                               r"pip install 'aum\[serve\]'$"):
        require_extra("aum serve", "serve", ("fastapi", "uvicorn", "json"))


def test_serve_and_export_without_their_extras(without, tmp_path, capsys):
    torch.manual_seed(0)
    model = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2, input_frames=32, mel_bins=16)
    model.meta = {"labels": ["a", "b"], "frontend": {"sample_rate": 16000, "num_mel_bins": 16, "target_frames": 32,
                                                      "mean": 0.0, "std": 1.0}}
    save_pretrained(model, tmp_path / "m")
    without("fastapi", "onnxscript", "onnxruntime")
    with pytest.raises(UnavailableError, match=r"pip install 'aum\[serve\]'"):
        create_app(model)
    with pytest.raises(UnavailableError, match=r"ONNX export needs onnxscript .*pip install 'aum\[export\]'"):
        export_model(model, tmp_path / "onnx", "onnx")
    with pytest.raises(UnavailableError, match=r"needs onnxruntime .*pip install 'aum\[export\]'"):
        onnx_session(tmp_path / "x.onnx")
    assert main(["serve", "--checkpoint", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "aum serve: error: aum serve needs fastapi (not installed)" in err
    assert main(["export", "--checkpoint", str(tmp_path / "m"), "--out", str(tmp_path / "e")]) == 1
    assert "pip install 'aum[export]'" in capsys.readouterr().err
