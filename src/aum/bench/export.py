"""`aum bench export`: an exported model (onnxruntime / ExportedProgram) beside eager PyTorch on the CPU.

For each traceable scan (`--scans`, default parallel) the model is exported once (export seconds and file size are
reported); then eager PyTorch (the model's own fast CPU scan), eager PyTorch with the traceable scan, and the
exported file are timed on one random normalised-fbank batch, alternating A/B/C per repeat so that machine load
hits all alike (median of `--repeats`). Threads: torch and onnxruntime both at `--threads`.

    aum bench export --checkpoint runs/demo/best --batch 8 --scans parallel,ref --out bench_out/export
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aum.bench import add_option, write_csv
from aum.inference.export import example_input, export_model, input_frames, onnx_session, run_exported, traceable_scan
from aum.models import from_pretrained

COLUMNS = ["model", "frames", "batch", "scan", "runtime", "export_s", "file_mb", "median_ms", "vs_eager",
           "max_abs_diff"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--checkpoint", required=True, help="checkpoint folder (from_pretrained)")
    add_option(parser, "--frames", type=int, default=None, help="input frames (default: the training length)")
    add_option(parser, "--batch", type=int, default=8)
    add_option(parser, "--scans", default="parallel", help="comma list of export scans: parallel, ref")
    add_option(parser, "--repeats", type=int, default=10)
    add_option(parser, "--threads", type=int, default=1)
    add_option(parser, "--out", default=None, help="CSV file, or a folder that gets export.csv")


def _alternating(fns: dict, repeats: int) -> dict[str, float]:
    """Median ms of each callable, timed round-robin one run at a time."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name].append(_time_once(fn))
    return {name: statistics.median(t) for name, t in runs.items()}


def _time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def _bench_scan(model, x: torch.Tensor, expected: np.ndarray, scan: str, folder: Path, args) -> list[dict]:
    t0 = time.perf_counter()
    path = export_model(model, folder / scan, "onnx", frames=x.shape[1], scan=scan)
    export_s = time.perf_counter() - t0
    session, xn = onnx_session(path, args.threads), x.numpy()

    def traced_eager():
        with traceable_scan(model, scan):
            return model(x)

    timings = _alternating({"pytorch-eager": lambda: model(x), f"pytorch-{scan}-scan": traced_eager,
                            "onnxruntime": lambda: run_exported(path, xn, session)}, args.repeats)
    diff = float(np.abs(run_exported(path, xn, session) - expected).max())
    return [{"model": model.model_name, "frames": x.shape[1], "batch": x.shape[0], "scan": scan, "runtime": runtime,
             "export_s": round(export_s, 1), "file_mb": round(path.stat().st_size / 2**20, 2),
             "median_ms": round(ms, 2), "vs_eager": round(ms / timings["pytorch-eager"], 2),
             "max_abs_diff": f"{diff:.1e}" if runtime == "onnxruntime" else ""} for runtime, ms in timings.items()]


def run(args) -> int:
    torch.set_num_threads(args.threads)
    model = from_pretrained(args.checkpoint).eval()
    x = example_input(model, input_frames(model, args.frames), batch=args.batch, seed=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        expected = model(x).numpy()
        for scan in [s.strip() for s in args.scans.split(",") if s.strip()]:
            rows += _bench_scan(model, x, expected, scan, Path(tmp), args)
    print(" | ".join(COLUMNS))
    for row in rows:
        print(" | ".join(str(row[c]) for c in COLUMNS))
    if args.out:
        out = Path(args.out)
        out = out / "export.csv" if out.suffix != ".csv" else out
        write_csv(out, rows, COLUMNS)
    return 0
