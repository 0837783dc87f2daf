"""`aum export`: ONNX (run with onnxruntime) and ExportedProgram files agree with PyTorch within 1e-4, for Mamba
models (through the traceable scans) and a transformer baseline; the CLI writes the file and export.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aum.audio import Frontend
from aum.cli import main
from aum.inference.export import choose_scan, example_input, export_model, parity, run_exported, traceable_scan
from aum.models import create_model, save_pretrained

pytest.importorskip("onnx", reason="the ONNX export needs onnx + onnxscript (pip install 'aum[export]')")
pytest.importorskip("onnxruntime", reason="running the ONNX export needs onnxruntime (pip install 'aum[export]')")


def tiny(name="aum_tiny", depth=1, **kw):
    torch.manual_seed(0)
    m = create_model(name, depth=depth, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32, **kw).eval()
    m.meta = {"labels": ["a", "b", "c"], "task": {"name": "classification", "loss": "ce"},
              "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict()}
    return m


def assert_onnx_export_matches(model, out_dir, scan):
    path = out_dir / "model.onnx"
    assert path.is_file() and parity(model, path, batch=3) < 1e-4  # traced at batch 2: the batch axis is dynamic
    info = json.loads((out_dir / "export.json").read_text())
    assert info["scan"] == scan and info["fbank_included"] is False and info["input"]["shape"] == ["batch", 48, 32]
    assert info["labels"] == ["a", "b", "c"] and info["frontend"]["target_frames"] == 48


# the loop scan: test_cli_export (the CLI picks it for these short inputs)
@pytest.mark.parametrize("name,depth,scan", [("aum_tiny", 1, "parallel"), ("ssamba_tiny", 2, "parallel"),
                                            ("aum_tiny", 1, "ref")])
def test_onnx_matches_pytorch(tmp_path, name, depth, scan):
    model = tiny(name, depth)
    assert export_model(model, tmp_path, "onnx", scan=scan) == tmp_path / "model.onnx"
    assert_onnx_export_matches(model, tmp_path, scan)


def test_exported_program_and_other_frame_count(tmp_path):
    model = tiny()
    path = export_model(model, tmp_path, "exported-program", frames=64)
    x = example_input(model, 64, batch=1, seed=3)
    np.testing.assert_allclose(run_exported(path, x), model(x).detach().numpy(), atol=1e-4)


def test_transformer_baseline_exports(tmp_path):
    model = tiny("ast_tiny", num_heads=2)
    assert parity(model, export_model(model, tmp_path, "onnx")) < 1e-4


def test_auto_scan_is_the_loop_on_short_inputs_only():
    model = tiny()  # 32 bins -> 2 frequency rows of patches, 1 layer
    assert choose_scan(model, 48) == "loop" and choose_scan(model, 16 * 600) == "parallel"
    assert choose_scan(model, 48, "ref") == "ref"


def test_traceable_scan_restores_the_backend():
    model = tiny()
    mixers = [m for m in model.modules() if hasattr(m, "scan_backend")]
    with traceable_scan(model, "parallel"):
        assert {m.scan_backend for m in mixers} == {"parallel"}
    assert {m.scan_backend for m in mixers} == {"auto"}
    with pytest.raises(ValueError, match="export scan"), traceable_scan(model, "cpu"):
        pass


def test_cli_export(tmp_path, capsys):
    model = tiny()
    save_pretrained(model, tmp_path / "ckpt")
    assert main(["export", "--checkpoint", str(tmp_path / "ckpt"), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "fbank itself is not in the graph" in out and float(out.rsplit(":", 1)[1]) < 1e-4
    assert_onnx_export_matches(model, tmp_path / "ckpt" / "export", "loop")
    assert main(["export", "--checkpoint", str(tmp_path / "ckpt"), "--frames", "8"]) == 1  # under one patch
