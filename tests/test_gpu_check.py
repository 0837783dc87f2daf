"""The GPU check's pieces that run anywhere: the verdict table from CSVs, the profile's grouping, the script's
arguments. (The whole script is dry-run by `bash bench/gpu_check.sh --dry-run`, minutes on a small CPU.)"""

import csv
import subprocess
from pathlib import Path

import pytest

from aum.bench import gpu_profile, gpu_summary

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.sh"
MODEL_COLUMNS = ["model", "attention", "dtype", "mode", "batch", "tokens", "median_ms", "peak_mem_mb", "status"]


def write_csv(path, columns, rows):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)


def test_summary_reads_the_csvs_and_judges_each_target(tmp_path):
    write_csv(tmp_path / "kernel.csv", ["case", "config", "length", "ms"],
              [["bi_fwd", "4:32:4:8", 4096, 1.5], ["bi_fwd", "8:16:4:4", 4096, 0.9], ["bi_fwd", "4:32:4:8", 1024, 0.1],
               ["bi_fwdbwd", "4:32:4:8", 4096, 12.0]])
    write_csv(tmp_path / "models.csv", MODEL_COLUMNS, [
        ["aum_base", "-", "bf16", "inference", 4, 512, 10.0, 900, "ok"],
        ["aum_base", "-", "bf16", "inference", 4, 4096, 40.0, 2000, "ok"],
        ["ast_base", "sdpa", "bf16", "inference", 4, 512, 5.0, 800, "ok"],
        ["aum_base", "-", "bf16", "inference", 4, 16384, 100.0, 5000, "ok"],
        ["ast_base", "sdpa", "bf16", "inference", 4, 16384, 250.0, 9000, "ok"],
        ["ssamba_tiny", "-", "fp32", "inference", 4, 22528, 100.0, 1000, "ok"],
        ["ssast_tiny", "naive", "fp32", "inference", 4, 22528, 1500.0, 30000, "ok"],
        ["aum_base", "-", "bf16", "train", 12, 512, 50.0, 9000, "ok"],
        ["aum_base", "-", "bf16", "train", 4, 4096, 0.0, "", "oom"],
    ])
    write_csv(tmp_path / "fbank.csv", ["device", "mode", "num_mel_bins", "clips", "clip_seconds", "clips_per_s"],
              [["cpu", "batched", 128, 64, 10.0, 400.0], ["cuda", "batched", 128, 64, 10.0, 80000.0],
               ["cuda", "batched", 80, 64, 10.0, 90000.0]])
    assert gpu_summary.main([str(tmp_path)]) == 0
    table = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:]
             for line in (tmp_path / "summary.txt").read_text().splitlines()[2:]}
    assert table["kernel bi_fwd, B=8 D=1536 N=16 L=4096 bf16 (best config 8:16:4:4)"] == \
        ["0.9 ms", "<= 1.2 ms", "met |"]
    assert table["kernel bi_fwdbwd, B=8 D=1536 N=16 L=4096 bf16 (best config 4:32:4:8)"][2] == "**not met** |"
    assert table["AuM-base inference bf16, batch 4, 4096 tokens"][:2] == ["40 ms", "<= 30 ms"]
    assert table["AST-base SDPA / AuM-base time, inference bf16, 512 tokens"][0] == "0.5x"
    assert table["AST-base SDPA / AuM-base time, inference bf16, 16384 tokens"] == ["2.5x", "> 1", "met |"]
    key = "SSAST-tiny naive / ssamba_tiny {}, fp32 inference, batch 4, 22528 tokens"
    assert table[key.format("time")] == ["15x", ">= 13x", "met |"]
    assert table[key.format("peak memory")] == ["30x", ">= 21x", "met |"]
    assert table["AuM-base training step bf16, 4096 tokens x batch 4"][0] == "not measured"  # an OOM row
    assert table["fbank GPU / best CPU row of the same run"] == ["200x", ">= 100x", "met |"]
    assert (tmp_path / "models.png").stat().st_size > 0


def test_summary_of_an_empty_folder_says_not_measured(tmp_path):
    assert gpu_summary.main([str(tmp_path), "--no-plot"]) == 0
    text = (tmp_path / "summary.txt").read_text()
    assert text.count("not measured") == 15 and " met " not in text


@pytest.mark.parametrize("name, group", [("scan_fwd_kernel", "selective scan"), ("sm90_xmma_gemm_bf16", "matrix "
                                         "products"), ("pytorch_flash::flash_fwd_kernel", "attention"),
                                         ("aten::mm", "matrix products"), ("vectorized_elementwise_kernel", "rest")])
def test_profile_groups_kernel_names(name, group):
    assert gpu_profile.group_of(name) == group


def test_profile_runs_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "profile.txt"
    assert gpu_profile.main(["--model", "aum_tiny", "--tokens", "16", "--batch", "1", "--depth", "1", "--steps", "1",
                             "--top", "3", "--device", "cpu", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## aum_tiny inference bf16" in text and "## aum_tiny train bf16" in text
    assert text.count("| matrix products |") == 2


def test_script_arguments():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    bad = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument '--fast'" in bad.stderr
    usage = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--dry-run" in usage.stdout


def test_profile_split_counts_kernels_once_on_cuda():
    from types import SimpleNamespace

    from torch.autograd import DeviceType

    def event(name, device, device_us, self_cpu_us):
        return SimpleNamespace(name=name, device_type=device, device_time_total=device_us,
                               self_cpu_time_total=self_cpu_us)

    events = [event("aten::mm", DeviceType.CPU, 300.0, 20.0),  # an op: its device time is its kernel's
              event("sm90_xmma_gemm_bf16", DeviceType.CUDA, 300.0, 0.0),
              event("scan_fwd_kernel", DeviceType.CUDA, 1000.0, 0.0),
              event("cudaLaunchKernel", DeviceType.CPU, 0.0, 5.0)]
    cuda = gpu_profile.split_times(events, on_cuda=True)
    assert cuda == {"selective scan": 1.0, "attention": 0.0, "matrix products": 0.3, "rest": 0.0}
    cpu = gpu_profile.split_times(events, on_cuda=False)
    assert cpu["matrix products"] == 0.02 and cpu["rest"] == 0.005 and cpu["selective scan"] == 0.0


def test_script_skips_every_step_once_the_budget_is_spent(tmp_path):
    import os
    import sys

    env = dict(os.environ, OUT=str(tmp_path), GPU_CHECK_BUDGET_S="5", PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIP cuda tests: the budget of 5s is spent" in proc.stdout
    assert "profile AuM-base | skipped | 0" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu_check.log", "summary.txt"]
