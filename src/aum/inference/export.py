"""Export a trained model for deployment without our code: ONNX (run with onnxruntime) or a torch ExportedProgram.

What is exported is the network from the normalised fbank to the logits: input `fbank` (batch, frames, mel_bins)
float32, output `logits` (batch, classes); the batch is dynamic, the frame count is fixed at export time (`frames`,
default the training length). The Kaldi fbank itself is NOT in the graph: `export.json` beside the model holds the
frontend settings (sample rate, bins, mean/std) and the labels, and a deployment computes the fbank with any Kaldi
compatible library (e.g. kaldi-native-fbank) and normalises it as `(fbank - mean) / (2 * std)`.

Mamba models: the eager CPU scan is a custom autograd Function with in-place steps that exporters cannot trace, so
for the export every mixer switches to a traceable scan (`scan`): "loop" (`aum.ops.scan_loop`: a lean per-step
loop, unrolled at the export length: fastest to run, export time grows with the length), "parallel"
(`aum.ops.scan_parallel`: a log-depth prefix scan, quick to export at any length, slower to run) or "ref" (the
reference loop, more ops per step). "auto" (default) takes "loop" while tokens x layers <= LOOP_MAX_STEPS, else
"parallel".
The choice is logged with a warning that the graph is slower than eager PyTorch; docs/EXPORT.md has the measured
trade-off.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aum.errors import ConfigError, require_extra

log = logging.getLogger(__name__)

FORMATS = {"onnx": "model.onnx", "exported-program": "model.pt2"}
EXPORT_SCANS = ("parallel", "loop", "ref")
# unrolled steps (tokens x layers) up to which "auto" exports the loop: 1000 took ~10 min on a contended 2-core CPU
LOOP_MAX_STEPS = 1000
INFO_FILE = "export.json"


@contextlib.contextmanager
def traceable_scan(model: torch.nn.Module, scan: str = "parallel"):
    """Inside the block every Mamba mixer of `model` runs the traceable `scan` backend; restored afterwards."""
    if scan not in EXPORT_SCANS:
        raise ConfigError(f"export scan must be one of {EXPORT_SCANS}, got {scan!r}")
    mixers: list[Any] = [m for m in model.modules() if hasattr(m, "scan_backend")]  # the Mamba mixers
    saved = [m.scan_backend for m in mixers]
    for m in mixers:
        m.scan_backend = scan
    try:
        yield model
    finally:
        for m, backend in zip(mixers, saved):
            m.scan_backend = backend


def input_frames(model, frames: int | None = None) -> int:
    """The fixed frame count of the exported graph: `frames`, else the frontend's training length."""
    if frames is not None:
        if frames < model.config.patch_size:
            raise ConfigError(f"--frames must be at least one patch ({model.config.patch_size}), got {frames}")
        return int(frames)
    frontend = (getattr(model, "meta", None) or {}).get("frontend") or {}
    return int(frontend.get("target_frames", model.config.input_frames))


def choose_scan(model, frames: int, scan: str = "auto") -> str:
    """The export scan: `scan` itself, or for "auto" "loop" on short sequences and "parallel" on long ones."""
    if scan != "auto":
        return scan
    n_f, n_t = model.patch_grid(frames)
    steps = (n_f * n_t + model.num_prefix_tokens) * model.config.depth
    return "loop" if steps <= LOOP_MAX_STEPS else "parallel"


def example_input(model, frames: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random normalised-fbank batch (batch, frames, mel_bins) for tracing and parity checks."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, model.config.mel_bins, generator=gen) * 0.5


def export_model(model, out_dir: str | Path, fmt: str = "onnx", frames: int | None = None,
                 scan: str = "auto") -> Path:
    """Write `model.onnx` or `model.pt2` and `export.json` into out_dir; returns the model file."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FORMATS[fmt]
    frames = input_frames(model, frames)
    model = model.eval().cpu()
    scan = choose_scan(model, frames, scan)
    x = example_input(model, frames)
    dynamic = {"x": {0: torch.export.Dim("batch")}}
    if any(hasattr(m, "scan_backend") for m in model.modules()):
        log.warning("the selective scan is exported as the %r scan: the exported graph runs slower than eager "
                    "PyTorch's CPU kernel (measured ratios in docs/EXPORT.md)", scan)
    if fmt == "onnx":
        require_extra("ONNX export", "export", ("onnx", "onnxscript"))
    with traceable_scan(model, scan), torch.no_grad():
        if fmt == "onnx":
            torch.onnx.export(model, (x,), str(path), dynamo=True, dynamic_shapes=dynamic, input_names=["fbank"],
                              output_names=["logits"], verbose=False, external_data=False)
        else:
            torch.export.save(torch.export.export(model, (x,), dynamic_shapes=dynamic), str(path))
    meta = getattr(model, "meta", None) or {}
    info = {"format": fmt, "file": path.name, "model_name": model.model_name, "scan": scan,
            "input": {"name": "fbank", "shape": ["batch", frames, model.config.mel_bins],
                      "what": "normalised Kaldi fbank: (fbank - mean) / (2 * std)"},
            "output": {"name": "logits", "shape": ["batch", model.config.num_classes]},
            "fbank_included": False, "frontend": meta.get("frontend"), "labels": meta.get("labels"),
            "task": meta.get("task")}
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    log.info("exported %s (%s, %d frames, scan %r) to %s", model.model_name, fmt, frames, scan, path)
    return path


def onnx_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session (one-line error when onnxruntime is missing)."""
    require_extra("running an ONNX export", "export", ("onnxruntime",))
    import onnxruntime as ort  # optional extra, checked above
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_exported(path: str | Path, x: torch.Tensor | np.ndarray, session=None) -> np.ndarray:
    """Logits of an exported model (.onnx through onnxruntime, .pt2 through torch.export.load) for x."""
    path = Path(path)
    if path.suffix == ".onnx":
        session = session or onnx_session(path)
        return session.run(None, {session.get_inputs()[0].name: np.asarray(x, dtype=np.float32)})[0]
    program = torch.export.load(str(path))
    with torch.no_grad():
        return program.module()(torch.as_tensor(x)).numpy()


@torch.no_grad()
def parity(model, path: str | Path, frames: int | None = None, batch: int = 3) -> float:
    """Largest |exported - PyTorch| logit over a random batch (a different batch size than the traced one)."""
    x = example_input(model.eval(), input_frames(model, frames), batch=batch, seed=1)
    return float(np.abs(run_exported(path, x) - model(x).numpy()).max())
