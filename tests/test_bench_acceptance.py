"""`aum.bench.acceptance`: every CPU figure read from the three benchmark CSVs, with its verdict."""

from __future__ import annotations

import csv

import pytest

from aum.bench import acceptance
from aum.bench.threads import DEFAULT_POLICY


def write(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def model_row(model, tokens, ms, attention="-", mode="inference", mem=""):
    return dict(model=model, attention=attention, dtype="fp32", mode=mode, tokens=tokens, median_ms=ms,
                peak_mem_mb=mem, status="ok")


def test_summary_reads_every_figure(tmp_path):
    rows = [model_row("aum_tiny", t, ms, mem=t / 10) for t, ms in ((512, 120), (2048, 500), (4096, 990),
                                                                     (8192, 2100))]
    rows += [model_row("ast_tiny", t, ms, "sdpa") for t, ms in ((512, 40), (2048, 450), (4096, 1500))]
    rows += [model_row("aum_tiny", 512, 900, mode="train")]
    write(tmp_path / "models.csv", rows)
    write(tmp_path / "scan.csv", [dict(backend="numba", length="1024", speedup_vs_ref=s, **{"pass": p})
                                  for p, s in (("fwd", "40"), ("fwd+bwd", "12"))])
    write(tmp_path / "threads.csv", [dict(policy=DEFAULT_POLICY, slowdown_vs_quiet=""),
                                     dict(policy=DEFAULT_POLICY, slowdown_vs_quiet="1.8")])
    lines = acceptance.summarize(tmp_path)
    text = "\n".join(lines)
    assert "120.00 ms" in lines[0] and lines[0].endswith("PASS")
    assert "3.00x" in lines[1] and lines[1].endswith("PASS")  # 120 / 40
    assert any("2048 -> 8192 tokens (time)" in x and "4.20x" in x and x.endswith("PASS") for x in lines)
    assert any("at 2048 tokens (goal)" in x and x.endswith("miss") for x in lines)  # 500 > 450
    assert any("fwd+bwd L=1024" in x and x.endswith("miss") for x in lines)
    assert "ssamba_tiny train step" in text and "not measured" in text
    assert lines[-1].endswith("PASS") and "1.80x" in lines[-1]


def test_summary_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="models.csv: missing"):
        acceptance.summarize(tmp_path)
