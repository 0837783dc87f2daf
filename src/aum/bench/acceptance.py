"""The CPU speed figures of AuM-tiny, read from one run of `aum bench models`, `aum bench scan` and
`aum bench threads` (run them with `bench/cpu_acceptance.sh`): each figure with its target, and PASS / miss.

    python -m aum.bench.acceptance bench_out/cpu_acceptance
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from aum.bench.threads import DEFAULT_POLICY


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; run bench/cpu_acceptance.sh first")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _line(name: str, value: float | None, target: str, ok: bool | None, unit: str = "") -> str:
    shown = "n/a" if value is None else f"{value:.2f}{unit}"
    verdict = "not measured" if value is None else ("-" if ok is None else ("PASS" if ok else "miss"))
    return f"{name:<58} {shown:>12}   target {target:<18} {verdict}"


def model_figures(rows: list[dict]) -> list[str]:
    """Inference, fp32: AuM-tiny time and its ratio to AST-tiny SDPA per length, growth, crossover, memory."""
    ok = [r for r in rows if r["status"] == "ok" and r["dtype"] == "fp32"]

    def ms(model, tokens, mode="inference", attention="-"):
        match = [float(r["median_ms"]) for r in ok if r["model"] == model and r["attention"] == attention
                 and r["mode"] == mode and int(r["tokens"]) == tokens]
        return match[0] if match else None

    def mem(tokens):
        match = [r["peak_mem_mb"] for r in ok if r["model"] == "aum_tiny" and r["mode"] == "inference"
                 and int(r["tokens"]) == tokens and r["peak_mem_mb"] != ""]
        return float(match[0]) if match else None

    def ratio(a, b):
        return None if a is None or b is None else a / b

    aum, ast = ms("aum_tiny", 512), ms("ast_tiny", 512, attention="sdpa")
    lines = [_line("AuM-tiny 512 tokens, batch 1, inference (ms)", aum, "<= 150 (goal 100)",
                   None if aum is None else aum <= 150, " ms"),
             _line("AuM-tiny / AST-tiny SDPA at 512 tokens", ratio(aum, ast), "<= 4 (goal 2.5)",
                   None if ratio(aum, ast) is None else ratio(aum, ast) <= 4, "x")]
    for low in (512, 2048):
        growth = ratio(ms("aum_tiny", 4 * low), ms("aum_tiny", low))
        lines.append(_line(f"AuM-tiny growth {low} -> {4 * low} tokens (time)", growth, "<= 4.5",
                           None if growth is None else growth <= 4.5, "x"))
        growth_mem = ratio(mem(4 * low), mem(low))
        lines.append(_line(f"AuM-tiny growth {low} -> {4 * low} tokens (peak memory)", growth_mem, "<= 4.5 (linear)",
                           None if growth_mem is None else growth_mem <= 4.5, "x"))
    for tokens, label in ((4096, "must"), (2048, "goal")):
        r = ratio(ms("aum_tiny", tokens), ms("ast_tiny", tokens, attention="sdpa"))
        lines.append(_line(f"AuM-tiny / AST-tiny SDPA at {tokens} tokens ({label})", r, "< 1",
                           None if r is None else r < 1, "x"))
    for model in ("aum_tiny", "ssamba_tiny", "ast_tiny"):
        attention = "sdpa" if model.startswith("ast") else "-"
        lines.append(_line(f"{model} train step at 512 tokens (ms, for the record)",
                           ms(model, 512, "train", attention), "-", None, " ms"))
    return lines


def scan_figures(rows: list[dict]) -> list[str]:
    """Scan alone, one direction, L = 1024, B=2, D=384, N=16: numba over the loop reference (wall time)."""
    lines = []
    for pass_name, target in (("fwd", 20), ("fwd+bwd", 25)):
        match = [r for r in rows if r["backend"] == "numba" and r["pass"] == pass_name and r["length"] == "1024"
                 and r["speedup_vs_ref"] not in ("", "nan")]
        value = float(match[0]["speedup_vs_ref"]) if match else None
        lines.append(_line(f"scan {pass_name} L=1024 B=2 D=384 N=16: x loop reference", value, f">= {target}",
                           None if value is None else value >= target, "x"))
    return lines


def thread_figures(rows: list[dict]) -> list[str]:
    match = [r for r in rows if r["policy"] == DEFAULT_POLICY and r["slowdown_vs_quiet"] != ""]
    value = float(match[0]["slowdown_vs_quiet"]) if match else None
    return [_line("AuM-tiny inference under a 2-process load / quiet", value, "<= 3",
                  None if value is None else value <= 3, "x")]


def summarize(out: Path) -> list[str]:
    return [*model_figures(_rows(out / "models.csv")), *scan_figures(_rows(out / "scan.csv")),
            *thread_figures(_rows(out / "threads.csv"))]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m aum.bench.acceptance OUT_DIR", file=sys.stderr)
        return 2
    print("\n".join(summarize(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
