"""The GPU check's verdict: read the CSVs `bench/gpu_check.sh` wrote and print one Markdown table of the measured
figures against the GPU targets (kernel, AuM-base vs AST-base, SSAMBA-tiny vs SSAST-tiny, training step, fbank),
plus `models.png` (time and peak memory vs tokens) from the merged models.csv.

    python -m aum.bench.gpu_summary OUT_DIR            # prints the table, writes OUT_DIR/summary.txt

A figure that is missing (a step cut off by its time box, an OOM, a dry run's other sizes) reads "not measured";
every ratio is between rows of the same run.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from aum.bench.models import plot

KERNEL_LENGTH = 4096
SSAMBA_TOKENS = 22528


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: float, unit: str = "") -> str:
    if math.isnan(value):
        return "not measured"
    return f"{value:.3g}{unit}" if value < 100 else f"{value:.0f}{unit}"


def _verdict(value: float, target: float, at_most: bool) -> str:
    if math.isnan(value):
        return "—"
    return "met" if (value <= target if at_most else value >= target) else "**not met**"


def kernel_best(rows: list[dict], case: str, length: int = KERNEL_LENGTH) -> tuple[float, str]:
    """Fastest ms of `case` at `length` over the swept configs, and that config."""
    found = [(_number(r["ms"]), r["config"]) for r in rows if r["case"] == case and int(r["length"]) == length]
    return min(found) if found else (math.nan, "")


def model_value(rows: list[dict], key: str, model: str, attention: str, dtype: str, mode: str, tokens: int,
                batch: int) -> float:
    for r in rows:
        if (r["model"], r["attention"], r["dtype"], r["mode"]) == (model, attention, dtype, mode) and \
                int(r["tokens"]) == tokens and int(r["batch"]) == batch and r["status"] == "ok":
            return _number(r[key])
    return math.nan


def summary_rows(kernel: list[dict], models: list[dict], fbank: list[dict]) -> list[tuple[str, str, str, str]]:
    """(item, measured, target, verdict) for every acceptance figure."""
    out = []
    for case, target in (("bi_fwd", 1.2), ("bi_fwdbwd", 10.0)):
        ms, config = kernel_best(kernel, case)
        out.append((f"kernel {case}, B=8 D=1536 N=16 L={KERNEL_LENGTH} bf16 (best config {config or '-'})",
                    _fmt(ms, " ms"), f"<= {target} ms", _verdict(ms, target, at_most=True)))

    def ms(model, attention, dtype, mode, tokens, batch=4, key="median_ms"):
        return model_value(models, key, model, attention, dtype, mode, tokens, batch)

    for tokens, target in ((512, 12.0), (4096, 30.0)):
        t = ms("aum_base", "-", "bf16", "inference", tokens)
        out.append((f"AuM-base inference bf16, batch 4, {tokens} tokens", _fmt(t, " ms"), f"<= {target:g} ms",
                    _verdict(t, target, at_most=True)))
    for tokens in (512, 4096, 16384):
        ratio = ms("ast_base", "sdpa", "bf16", "inference", tokens) / ms("aum_base", "-", "bf16", "inference", tokens)
        target, verdict = ("> 1", _verdict(ratio, 1.0 + 1e-9, at_most=False)) if tokens == 16384 else ("reported", "—")
        out.append((f"AST-base SDPA / AuM-base time, inference bf16, {tokens} tokens", _fmt(ratio, "x"), target,
                    verdict))
    for model in ("ssamba_tiny", "aum_tiny"):
        for key, what, target in (("median_ms", "time", 13.0), ("peak_mem_mb", "peak memory", 21.0)):
            ratio = ms("ssast_tiny", "naive", "fp32", "inference", SSAMBA_TOKENS, key=key) / \
                ms(model, "-", "fp32", "inference", SSAMBA_TOKENS, key=key)
            out.append((f"SSAST-tiny naive / {model} {what}, fp32 inference, batch 4, {SSAMBA_TOKENS} tokens",
                        _fmt(ratio, "x"), f">= {target:g}x" if model == "ssamba_tiny" else "reported",
                        _verdict(ratio, target, at_most=False) if model == "ssamba_tiny" else "—"))
    for tokens, batch, target in ((512, 12, 53.0), (4096, 4, 127.0)):
        t = ms("aum_base", "-", "bf16", "train", tokens, batch)
        out.append((f"AuM-base training step bf16, {tokens} tokens x batch {batch}", _fmt(t, " ms"),
                    f"<= {target:g} ms", _verdict(t, target, at_most=True)))
    out += _fbank_rows(fbank)
    return out


def _fbank_rows(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    def clips_per_s(device, mode="batched", bins="128"):
        found = [_number(r["clips_per_s"]) for r in rows
                 if (r["device"], r["mode"], r["num_mel_bins"]) == (device, mode, bins)]
        return max(found) if found else math.nan

    gpu, cpu = clips_per_s("cuda"), clips_per_s("cpu")
    clips = rows[0]["clips"] if rows else "?"
    seconds = rows[0]["clip_seconds"] if rows else "?"
    return [(f"fbank on the GPU, {clips} clips x {seconds} s, 128 bins", _fmt(gpu, " clips/s"), "reported", "—"),
            ("fbank GPU / best CPU row of the same run", _fmt(gpu / cpu, "x"), ">= 100x",
             _verdict(gpu / cpu, 100.0, at_most=False))]


def markdown(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| figure | measured | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {item} | {value} | {target} | {verdict} |" for item, value, target, verdict in rows]
    return "\n".join(lines)


def plot_models(rows: list[dict], path: Path) -> bool:
    """models.png from the merged models.csv through `aum.bench.models.plot` (False when there is nothing)."""
    typed = []
    for r in rows:
        if r.get("status") != "ok":
            continue
        typed.append({**r, "tokens": int(r["tokens"]), "median_ms": _number(r["median_ms"]),
                      "peak_mem_mb": _number(r["peak_mem_mb"]) if r["peak_mem_mb"] != "" else ""})
    if not typed:
        return False
    plot(typed, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aum.bench.gpu_summary", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the folder gpu_check.sh wrote (kernel.csv, models.csv, fbank.csv)")
    parser.add_argument("--no-plot", action="store_true", help="table only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    models = read_csv(out / "models.csv")
    table = markdown(summary_rows(read_csv(out / "kernel.csv"), models, read_csv(out / "fbank.csv")))
    (out / "summary.txt").write_text(table + "\n")
    print(table)
    if not args.no_plot and plot_models(models, out / "models.png"):
        print(f"wrote {out / 'models.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
