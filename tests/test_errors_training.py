"""Runs that must not be reported as a success, and CLI answers a user gets: all-bad training data, too many bad
clips, epochs <= 0, splits that overlap, two runs in one folder, Ctrl-C / SIGTERM, `--top-k` larger than the
classes, `--hop -5`, `embed --out FILE`, and real bugs keeping their traceback."""

import json
import os
import shutil
import signal

import numpy as np
import pytest
import soundfile

from aum.cli import main
from aum.data import Example
from aum.data.overlap import find_overlap
from aum.train.guards import RunLock
from aum.train.trainer import Trainer
from test_train_fixtures import SAMPLE_RATE, make_tone_dataset, tiny_recipe, write_recipe

FAST = ["--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_tone_dataset(tmp_path_factory.mktemp("tones") / "tones", {"train": 4, "val": 1, "test": 1})


@pytest.fixture
def recipe(data, tmp_path):
    return write_recipe(tmp_path / "tiny.yaml", tiny_recipe(data))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    out = tmp / "run"
    assert main(["train", str(write_recipe(tmp / "tiny.yaml", tiny_recipe(data))), "train.epochs=1", "--out",
                 str(out), *FAST]) == 0
    return out


def _corrupt_copy(data, tmp_path, bad_per_class: int):
    """The tone dataset with `bad_per_class` train clips of each class replaced by garbage."""
    root = tmp_path / "tones"
    shutil.copytree(data, root)
    for name in ("low", "high"):
        for wav in sorted((root / "train" / name).glob("*.wav"))[:bad_per_class]:
            wav.write_bytes(b"RIFF not really a wav file")
    return root


def test_a_run_whose_training_clips_are_all_bad_fails_with_the_count(data, tmp_path, capsys):
    root = _corrupt_copy(data, tmp_path, bad_per_class=4)
    recipe = write_recipe(tmp_path / "bad.yaml", tiny_recipe(root))
    assert main(["train", str(recipe), "--out", str(tmp_path / "run"), *FAST]) == 1
    captured = capsys.readouterr()
    assert "epoch 0: all 8 training clip(s) were unreadable, nothing was trained" in captured.err
    assert not (tmp_path / "run" / "best").exists() and "test (" not in captured.out


def test_more_bad_clips_than_max_bad_fraction_fails(data, tmp_path, capsys):
    root = _corrupt_copy(data, tmp_path, bad_per_class=3)  # 6 of 8 bad
    recipe = write_recipe(tmp_path / "bad.yaml", tiny_recipe(root))
    assert main(["train", str(recipe), "--out", str(tmp_path / "run"), *FAST]) == 1
    assert "6 of 8 training clips were unreadable (75% > train.max_bad_fraction=0.5)" in capsys.readouterr().err
    assert main(["train", str(recipe), "--out", str(tmp_path / "run2"), "train.max_bad_fraction=0.8",
                 "train.epochs=1", *FAST]) == 0


@pytest.mark.parametrize(("override", "message"), [
    ("train.epochs=-1", "train.epochs=-1: must be >= 1"),
    ("train.epochs=0", "train.epochs=0: must be >= 1"),
    ("frontend.target_frames=0", "frontend.target_frames=0: must be >= 1"),
    ("frontend.num_mel_bins=2", "frontend.num_mel_bins=2: must be >= 3"),
])
def test_impossible_settings_stop_before_anything_runs(recipe, tmp_path, capsys, override, message):
    assert main(["train", str(recipe), override, "--out", str(tmp_path / "run"), *FAST]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and "run folder" not in captured.out
    assert not (tmp_path / "run").exists()


def test_test_clips_found_in_the_training_split_are_reported(data, tmp_path, caplog):
    root = tmp_path / "tones"
    shutil.copytree(data, root)
    shutil.copy(root / "train" / "low" / "00.wav", root / "test" / "low" / "copy_of_train.wav")
    recipe = write_recipe(tmp_path / "leak.yaml", tiny_recipe(root))
    assert main(["train", str(recipe), "train.epochs=1", "--out", str(tmp_path / "run"), *FAST]) == 0
    assert "1 of 3 test clip(s) have the same content as train clips, e.g. " in caplog.text
    assert "copy_of_train.wav = 00.wav" in caplog.text


def test_overlap_by_path():
    train = [Example(f"/d/{i}.wav", [0]) for i in range(5)]
    other = [Example("/d/3.wav", [0]), Example("/d/./4.wav", [0]), Example("/e/9.wav", [0])]
    same_path, same_content = find_overlap(train, other)
    assert same_path == ["/d/3.wav", "/d/./4.wav"] and same_content == []


def test_a_second_run_into_the_same_folder_is_refused(recipe, tmp_path, capsys):
    out = tmp_path / "run"
    with RunLock(out):  # another `aum train` holding the folder
        assert main(["train", str(recipe), "--out", str(out), *FAST]) == 1
    assert f"{out}: in use by pid {os.getpid()}" in capsys.readouterr().err
    assert not (out / "last").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_cleanly_saves_last_and_resume_finishes(recipe, tmp_path, capsys, monkeypatch, sig):
    out = tmp_path / "run"
    real_step = Trainer._optimizer_step

    def step_then_signal(self):
        real_step(self)
        if self.step == 3:  # mid-epoch 1 (2 steps per epoch)
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(Trainer, "_optimizer_step", step_then_signal)
    assert main(["train", str(recipe), "--out", str(out), *FAST]) == 130
    err = capsys.readouterr().err
    assert f"stopped by {sig.name} at epoch 1, step 3; saved {out / 'last'}" in err and "--resume" in err
    assert "Traceback" not in err
    assert json.loads((out / "last" / "config.json").read_text())["meta"]["trained"]["step"] == 3
    assert signal.getsignal(sig) is not None and signal.getsignal(signal.SIGINT) == signal.default_int_handler
    monkeypatch.setattr(Trainer, "_optimizer_step", real_step)
    assert main(["train", str(recipe), "--out", str(out), "--resume", *FAST]) == 0
    assert json.loads((out / "last" / "config.json").read_text())["meta"]["trained"]["step"] == 4


def _clip(tmp_path):
    path = tmp_path / "clip.wav"
    soundfile.write(path, (np.random.default_rng(0).standard_normal(8000) * 0.1).astype(np.float32), SAMPLE_RATE)
    return path


def test_top_k_larger_than_the_classes_shows_every_label_once(trained, tmp_path, capsys):
    assert main(["predict", str(_clip(tmp_path)), "--checkpoint", str(trained / "best"), "--top-k", "50"]) == 0
    out = capsys.readouterr().out
    assert "#2" in out and "#3" not in out and "high" in out and "low" in out
    assert main(["predict", str(_clip(tmp_path)), "--checkpoint", str(trained / "best"), "--top-k", "50",
                 "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"][0]["top"]) == 2


@pytest.mark.parametrize("args", [["--hop", "-5"], ["--top-k", "0"]])
def test_predict_refuses_non_positive_options(trained, tmp_path, capsys, args):
    assert main(["predict", str(_clip(tmp_path)), "--checkpoint", str(trained / "best"), *args]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"aum predict: error: {args[0]} {args[1]}: must be at least 1"


def test_predict_on_a_fifo_says_what_it_is(trained, tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.wav")
    assert main(["predict", str(tmp_path / "pipe.wav"), "--checkpoint", str(trained / "best")]) == 1
    assert "pipe.wav: not a regular file (a FIFO)" in capsys.readouterr().err


def test_embed_into_an_existing_file_is_one_line(trained, tmp_path, capsys):
    (tmp_path / "taken.npy").write_bytes(b"x")
    assert main(["embed", str(_clip(tmp_path)), "--checkpoint", str(trained / "best"), "--out",
                 str(tmp_path / "taken.npy")]) == 1
    assert "taken.npy: exists and is not a folder" in capsys.readouterr().err


def test_bugs_keep_their_traceback_and_ctrl_c_is_a_clean_stop(trained, monkeypatch, capsys):
    def crash(path):
        raise RuntimeError("shape '[-1, 0]' is invalid for input of size 0")  # a bug, e.g. in a reshape

    monkeypatch.setattr("aum.cli.predict.audio_paths", crash)
    with pytest.raises(RuntimeError, match="is invalid"):  # not dressed up as a user error
        main(["predict", "x.wav", "--checkpoint", str(trained / "best")])
    monkeypatch.setattr("aum.cli.predict.audio_paths", lambda p: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["predict", "x.wav", "--checkpoint", str(trained / "best")]) == 130
    assert capsys.readouterr().err.strip() == "aum predict: interrupted"


def test_ctrl_c_to_the_process_group_with_loader_workers(data, tmp_path):
    """A real Ctrl-C: SIGINT to the whole process group (the main process and its DataLoader workers)."""
    import subprocess
    import sys
    import time

    recipe = write_recipe(tmp_path / "long.yaml", tiny_recipe(data, train={"epochs": 1000, "num_workers": 1}))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aum", "train", str(recipe), "--out", str(out), *FAST], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "last").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        err = proc.communicate(timeout=240)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert err.count("SIGINT received") == 1 and "Traceback" not in err
    assert f"saved {out / 'last'}: run the same command with --resume" in err
    assert main(["train", str(recipe), "--out", str(out), "--resume", "train.max_steps=1", *FAST]) == 0


@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "device 'cuda': CUDA is not available here"), ("gpu", "device 'gpu': choose auto, cpu, cuda")])
def test_an_unusable_device_is_one_line(trained, tmp_path, capsys, device, message):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["predict", str(_clip(tmp_path)), "--checkpoint", str(trained / "best"), "--device", device]) == 1
    assert main(["eval", "--checkpoint", str(trained / "best"), "--device", device]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(message in line for line in err), err


def test_an_unwritable_output_is_one_line(trained, tmp_path, capsys, monkeypatch):
    import errno

    def refuse(path, array):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("aum.inference.predict.np.save", refuse)  # root ignores mode bits: simulated
    assert main(["embed", str(_clip(tmp_path)), "--checkpoint", str(trained / "best"), "--out",
                 str(tmp_path / "emb")]) == 1
    expected = f"aum embed: error: {tmp_path / 'emb' / 'clip'}.clip.npy: permission denied"
    assert capsys.readouterr().err.strip() == expected
