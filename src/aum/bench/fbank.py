"""`aum bench fbank`: our batched torch fbank vs kaldi-native-fbank (per clip; it has no batching).

Clips are white noise (the fbank's cost does not depend on the content). Each timing is the median of `--repeats`
runs after one warm-up run. kaldi-native-fbank is timed at its best from Python: the waveform is converted to a
list before the clock starts; the clock covers accept_waveform, input_finished and reading every frame.
kaldi-native-fbank refuses 128 bins at 16 kHz (mel filter 3 would be empty), so it runs at 80 bins and ours runs at
both 80 and 128 (the cost barely depends on the bin count). On CUDA the data is already on the GPU and the clock
stops after torch.cuda.synchronize(). CPU rows are timed at each of `--threads` (default: torch's default and 1,
since intra-op threads stall on a busy machine); the load average is printed so that contention is visible, and
process CPU time is reported beside wall-clock time (it counts a GPU row's host time only).

    python -m aum.bench.fbank --clips 64 --seconds 10 --out bench_out
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from aum.audio import fbank
from aum.bench import add_option, print_table, run_as_script, write_csv
from aum.errors import ConfigError, UnavailableError

SAMPLE_RATE = 16000
KNF_BINS = 80  # the most common Kaldi setting; kaldi-native-fbank cannot do 128 at 16 kHz (see module doc)
COLUMNS = ["implementation", "device", "mode", "num_mel_bins", "clips", "clip_seconds", "threads", "median_s",
           "min_s", "cpu_s", "clips_per_s", "speedup_vs_knf", "cpu_speedup_vs_knf"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--clips", type=int, default=64, help="number of clips (default 64)")
    add_option(parser, "--seconds", type=float, default=10.0, help="length of each clip in seconds (default 10)")
    add_option(parser, "--repeats", type=int, default=5, help="timed runs per row; the median is reported (default 5)")
    add_option(parser, "--threads", default="auto",
         help="comma list of torch CPU thread counts to time ours with; auto: torch's default and 1")
    add_option(parser, "--device", default="auto", choices=["auto", "cpu", "cuda"],
         help="auto: CPU rows, plus CUDA rows when a GPU is present")
    add_option(parser, "--out", default=None, help="CSV file, or a folder that gets fbank.csv")


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _time(fn: Callable[[], object], repeats: int, sync: Callable[[], None] = _sync) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each timed run (CPU time is what a busy machine distorts least)."""
    fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def _knf_runner(clips: torch.Tensor) -> Callable[[], object] | None:
    try:
        import kaldi_native_fbank as knf  # optional oracle (dev extra)
    except ImportError:
        return None
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hanning"
    opts.mel_opts.num_bins = KNF_BINS
    waves = [(c - c.mean()).tolist() for c in clips]

    def run_all():
        for wave in waves:
            extractor = knf.OnlineFbank(opts)
            extractor.accept_waveform(SAMPLE_RATE, wave)
            extractor.input_finished()
            np.stack([extractor.get_frame(i) for i in range(extractor.num_frames_ready)])

    return run_all


def _cases(clips: torch.Tensor, device: str, thread_counts: list[int]) -> list[tuple]:
    """(implementation, device, mode, bins, torch threads, function) for every row to time."""
    cases = []
    knf_run = _knf_runner(clips)
    if knf_run is not None:
        cases.append(("kaldi-native-fbank", "cpu", "per-clip", KNF_BINS, 1, knf_run))
    else:
        print("kaldi-native-fbank is not installed: its row is left out (pip install kaldi-native-fbank)")
    if device in ("auto", "cpu"):
        for threads in thread_counts:
            for bins in (KNF_BINS, 128):
                cases.append(("aum.audio.fbank", "cpu", "batched", bins, threads,
                              lambda b=bins: fbank(clips, num_mel_bins=b)))
            cases.append(("aum.audio.fbank", "cpu", "per-clip", 128, threads, lambda: [fbank(c) for c in clips]))
    if device == "cuda" and not torch.cuda.is_available():
        raise UnavailableError("--device cuda was asked for but CUDA is not available")
    if device in ("auto", "cuda") and torch.cuda.is_available():
        on_gpu = clips.cuda()
        for bins in (KNF_BINS, 128):
            cases.append(("aum.audio.fbank", "cuda", "batched", bins, thread_counts[0],
                          lambda b=bins: fbank(on_gpu, num_mel_bins=b)))
    return cases


def _output_path(out: str | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    return path if path.suffix == ".csv" else path / "fbank.csv"


def _thread_counts(spec: str | int | None) -> list[int]:
    default = torch.get_num_threads()
    if spec in (None, "auto"):
        return [default, 1] if default > 1 else [1]
    try:
        counts = [int(t) for t in str(spec).split(",")]
    except ValueError:
        raise ConfigError(f"--threads: expected 'auto' or a comma list of integers, got {spec!r}") from None
    if min(counts) < 1:
        raise ConfigError(f"--threads: thread counts must be positive, got {spec!r}")
    return counts


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run(args: argparse.Namespace) -> int:
    thread_counts = _thread_counts(getattr(args, "threads", "auto"))
    clips_n, seconds = getattr(args, "clips", 64), getattr(args, "seconds", 10.0)
    repeats = getattr(args, "repeats", 5)
    if clips_n < 1 or seconds <= 0 or repeats < 1:
        raise ConfigError("--clips, --seconds and --repeats must be positive")
    clips = 0.1 * torch.randn(clips_n, int(seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(0))
    rows, initial_threads = [], torch.get_num_threads()
    print(f"load average before: {_load()} on {os.cpu_count()} CPUs")
    try:
        for name, device, mode, bins, threads, fn in _cases(clips, getattr(args, "device", "auto"), thread_counts):
            torch.set_num_threads(threads)
            wall, cpu = _time(fn, repeats)
            median = statistics.median(wall)
            rows.append({"implementation": name, "device": device, "mode": mode, "num_mel_bins": bins,
                         "clips": clips_n, "clip_seconds": seconds, "threads": threads, "median_s": median,
                         "min_s": min(wall), "cpu_s": statistics.median(cpu), "clips_per_s": clips_n / median})
    finally:
        torch.set_num_threads(initial_threads)
    print(f"load average after: {_load()}")
    knf_row = next((r for r in rows if r["implementation"] == "kaldi-native-fbank"), None)
    for row in rows:
        row["speedup_vs_knf"] = knf_row["median_s"] / row["median_s"] if knf_row else float("nan")
        row["cpu_speedup_vs_knf"] = knf_row["cpu_s"] / row["cpu_s"] if knf_row and row["cpu_s"] else float("nan")
    _print_table(rows)
    path = _output_path(getattr(args, "out", None))
    if path is not None:
        write_csv(path, rows, COLUMNS)
    return 0


TABLE = [("implementation", "implementation", "<20"), ("device", "device", "<6"), ("mode", "mode", "<9"),
         ("bins", "num_mel_bins", ">4"), ("threads", "threads", ">7"), ("median s", "median_s", ">9.4f"),
         ("cpu s", "cpu_s", ">8.4f"), ("clips/s", "clips_per_s", ">9.1f"), ("x knf", "speedup_vs_knf", ">7.2f"),
         ("cpu x knf", "cpu_speedup_vs_knf", ">9.2f")]


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("nothing to time")
        return
    print(f"fbank of {rows[0]['clips']} clips x {rows[0]['clip_seconds']:g} s at {SAMPLE_RATE} Hz (medians of the "
          f"timed runs; x knf = wall-clock speed-up over kaldi-native-fbank; cpu = process CPU seconds)")
    print_table(rows, TABLE)


run_as_script(__name__)
