"""`aum bench fbank` runs end to end on a tiny workload and writes its CSV (speed is never asserted)."""

from __future__ import annotations

import argparse
import csv

import pytest

from aum.bench import fbank as bench


def test_fbank_benchmark_writes_csv(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")  # a caller-owned option must not clash
    bench.add_arguments(parser)
    args = parser.parse_args(["--clips", "2", "--seconds", "0.5", "--repeats", "1", "--threads", "1",
                              "--device", "cpu", "--out", str(tmp_path / "b")])
    assert bench.run(args) == 0
    rows = list(csv.DictReader((tmp_path / "b" / "fbank.csv").open()))
    kinds = {(r["implementation"], r["mode"], r["num_mel_bins"]) for r in rows}
    assert ("aum.audio.fbank", "batched", "128") in kinds and ("aum.audio.fbank", "per-clip", "128") in kinds
    assert ("kaldi-native-fbank", "per-clip", "80") in kinds
    assert all(float(r["median_s"]) > 0 for r in rows)
    assert "clips/s" in capsys.readouterr().out


def test_bad_thread_list_is_refused():
    args = argparse.Namespace(clips=1, seconds=0.1, repeats=1, threads="two", device="cpu", out=None)
    with pytest.raises(ValueError, match="--threads"):
        bench.run(args)
