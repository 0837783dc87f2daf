"""SIGKILL a CPU training run mid-epoch (after a 'last' checkpoint was written), resume it with --resume, and end
with weights bitwise equal to an uninterrupted run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from aum.cli import main
from test_train_fixtures import make_tone_dataset, tiny_recipe, write_recipe

STEPS_PER_EPOCH, EPOCHS = 4, 2
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _train(recipe, out, *extra):
    return [sys.executable, "-m", "aum", "train", str(recipe), "--out", str(out), "--no-progress", *extra]


def _saved_step(run) -> int | None:
    try:
        return json.loads((run / "last" / "config.json").read_text())["meta"]["trained"]["step"]
    except (OSError, ValueError, KeyError):
        return None  # not written yet, or being swapped in


def _kill_mid_epoch(cmd, run, timeout=300):
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            step = _saved_step(run)
            if step is not None and step >= 2 and step % STEPS_PER_EPOCH:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return step
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pytest.fail(f"the run ended before a mid-epoch kill could land: {proc.stderr.read().decode()[-2000:]}")


def _weights(path):
    return load_file(str(path / "model.safetensors"))


def _losses(run):
    with open(run / "logs" / "train.csv") as f:
        return [(int(r["step"]), r["loss"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_sigkill_then_resume_is_bitwise_equal(tmp_path):
    root = make_tone_dataset(tmp_path / "tones", {"train": STEPS_PER_EPOCH * 2, "val": 2, "test": 1})
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(root, train={
        "epochs": EPOCHS, "batch_size": 4, "save_every_steps": 1, "test_split": None}, model={"drop_path": 0.1},
        augment={"freqm": 4, "timem": 4}))
    assert main(_train(recipe, tmp_path / "full")[3:]) == 0  # the uninterrupted run needs no process of its own

    killed_at = _kill_mid_epoch(_train(recipe, tmp_path / "cut"), tmp_path / "cut")
    assert 0 < killed_at < STEPS_PER_EPOCH * EPOCHS
    subprocess.run(_train(recipe, tmp_path / "cut", "--resume"), env=ENV, check=True, capture_output=True)

    for name in ("last", "best"):
        full, cut = _weights(tmp_path / "full" / name), _weights(tmp_path / "cut" / name)
        assert full.keys() == cut.keys()
        assert all(torch.equal(full[k], cut[k]) for k in full), f"{name}: weights differ after resume"
    assert _losses(tmp_path / "cut") == _losses(tmp_path / "full")  # same curve, no duplicated rows
