"""Smoke test of `aum bench scan` at a toy size: rows for every CPU backend and pass, CSV written."""

from __future__ import annotations

import argparse
import csv

from aum.bench import scan as scan_bench


def test_scan_bench_writes_rows(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    scan_bench.add_arguments(parser)
    args = parser.parse_args(["--lengths", "9", "--batch", "1", "--dim", "3", "--state", "4", "--repeats", "1",
                              "--device", "cpu", "--out", str(tmp_path)])
    assert scan_bench.run(args) == 0
    rows = list(csv.DictReader((tmp_path / "scan.csv").open()))
    expected = {(b, p) for b in ("numba", "cpu", "ref") for p in ("fwd", "fwd+bwd")}
    assert {(r["backend"], r["pass"]) for r in rows} == expected
    assert all(float(r["median_ms"]) > 0 and float(r["peak_mem_MiB"]) >= 0 for r in rows)
    assert all(float(r["speedup_vs_ref"]) > 0 for r in rows)
    assert "selective scan (scan) on cpu" in capsys.readouterr().out
