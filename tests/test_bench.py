"""`aum bench`: CLI wiring and the models sweep on the CPU at a tiny size (depth 1, a few tokens)."""

from __future__ import annotations

import csv

import pytest
import torch

from aum.bench import models as bench_models
from aum.cli import bench as cli_bench
from aum.cli import main

TINY = ["--tokens", "16,32", "--depth", "1", "--batch", "1", "--warmup", "0", "--repeats", "1", "--device", "cpu"]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_models_bench_writes_csv_and_png(tmp_path, capsys):
    rc = main(["bench", "models", "--models", "aum_tiny,ast_tiny", "--attention", "naive", *TINY,
               "--tokens", "16", "--out", str(tmp_path)])
    assert rc == 0
    rows = read_rows(tmp_path / "models.csv")
    assert [r["status"] for r in rows] == ["ok"] * 4  # 2 models x 2 modes
    assert {(r["model"], r["attention"], r["scan_backend"]) for r in rows} == {("aum_tiny", "-", "numba"),
                                                                                ("ast_tiny", "naive", "-")}
    assert {r["mode"] for r in rows} == {"inference", "train"}
    assert {int(r["tokens"]): int(r["frames"]) for r in rows} == {16: 32}
    assert all(float(r["median_ms"]) > 0 and r["depth"] == "1" and int(r["params"]) > 0 for r in rows)
    assert (tmp_path / "models.png").stat().st_size > 1000
    assert "aum_tiny inference fp32" in capsys.readouterr().out


def test_oom_is_recorded_and_longer_lengths_skipped(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 40 GiB")

    monkeypatch.setattr(bench_models, "build_model", out_of_memory)
    out = tmp_path / "r.csv"
    assert main(["bench", "models", "--models", "ssast_tiny", "--attention", "sdpa", "--modes", "inference",
                 *TINY, "--out", str(out), "--no-plot"]) == 0
    assert [r["status"] for r in read_rows(out)] == ["oom", "skipped (oom at a shorter length)"]
    assert not out.with_suffix(".png").exists()


def test_tokens_to_frames_and_bad_arguments():
    assert bench_models.frames_for_tokens(512) == 1024  # 10 s clip: 8 x 64 patches
    assert bench_models.frames_for_tokens(22528) == 45056
    with pytest.raises(ValueError, match="multiple of 8"):
        bench_models.frames_for_tokens(100)
    assert main(["bench", "models", "--tokens", "100"]) == 1
    assert main(["bench", "models", "--models", "nope_tiny", *TINY]) == 1
    assert main(["bench", "models", "--models", "aum_tiny", "--scan-backend", "nope", *TINY]) == 1


def test_missing_bench_module_fails_clearly(monkeypatch):
    monkeypatch.setitem(cli_bench.BENCHES, "nothere", "a benchmark this build lacks")
    with pytest.raises(RuntimeError, match="'aum bench nothere' is not available"):
        cli_bench.load_bench("nothere")
    with pytest.raises(SystemExit):
        main(["bench", "unknown-bench"])


def test_models_bench_growth_and_train_at_the_shortest_length(tmp_path):
    out = tmp_path / "g.csv"
    assert main(["bench", "models", "--models", "aum_tiny,ast_tiny", "--tokens", "8,32", "--depth", "1",
                 "--warmup", "0", "--repeats", "1", "--device", "cpu", "--out", str(out), "--no-plot"]) == 0
    rows = read_rows(out)
    assert {(r["mode"], r["tokens"]) for r in rows} == {("inference", "8"), ("inference", "32"), ("train", "8")}
    assert all(float(r["growth_4x"]) > 0 for r in rows if r["tokens"] == "32")
    assert all(float(r["peak_mem_mb"]) > 0 for r in rows)


def test_threads_bench_one_policy(tmp_path, monkeypatch):
    from aum.bench import threads as bench_threads

    monkeypatch.setattr(bench_threads, "POLICIES", [("1 thread", 1, 1, "", "")])
    out = tmp_path / "t.csv"
    assert main(["bench", "threads", "--tokens", "8", "--depth", "1", "--repeats", "1", "--load", "1",
                 "--out", str(out)]) == 0
    rows = read_rows(out)
    assert [r["load"] for r in rows] == ["0", "1"] and float(rows[1]["slowdown_vs_quiet"]) > 0
