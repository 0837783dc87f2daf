"""Broken checkpoints through every loader (`aum predict`, `aum eval`, `from_pretrained`, `--resume`, official
weights): one line naming the file and the cause. Failed writes (a full disk) keep the previous checkpoint."""

import errno
import json
import os
import re
import shutil

import numpy as np
import pytest
import soundfile
import torch

from aum.cli import main
from aum.errors import CheckpointError
from aum.models import create_model, from_pretrained, save_pretrained
from aum.train import run_folder as ckpt
from test_train_fixtures import SAMPLE_RATE, make_tone_dataset, tiny_recipe, write_recipe


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ckpt_errors")
    root = make_tone_dataset(tmp / "tones", {"train": 4, "val": 1, "test": 1})
    recipe = write_recipe(tmp / "tiny.yaml", tiny_recipe(root, train={"epochs": 1}))
    out = tmp / "run"
    assert main(["train", str(recipe), "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture
def copy(run, tmp_path):
    """A scratch copy of the run folder whose files a test may break."""
    target = tmp_path / "run"
    shutil.copytree(run, target)
    (target / ".lock").unlink(missing_ok=True)
    return target


def _wav(tmp_path):
    path = tmp_path / "clip.wav"
    soundfile.write(path, (np.random.default_rng(0).standard_normal(8000) * 0.1).astype(np.float32), SAMPLE_RATE)
    return path


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


BROKEN_WEIGHTS = {
    "empty": (lambda p: p.write_bytes(b""), r"empty file \(0 bytes\)"),
    "truncated": (lambda p: _truncate(p), "truncated safetensors file"),
    "cut_in_header": (lambda p: p.write_bytes(p.read_bytes()[:1000]), "truncated safetensors file"),
    "cut_to_4_bytes": (lambda p: p.write_bytes(p.read_bytes()[:4]), "truncated safetensors file"),
    "cut_by_1_byte": (lambda p: p.write_bytes(p.read_bytes()[:-1]), "truncated safetensors file"),
    "random": (lambda p: p.write_bytes(os.urandom(4096)), "not a safetensors file"),
    "text": (lambda p: p.write_text("hello, I am not a tensor file\n"), "not a safetensors file"),
    "loop": (lambda p: (p.unlink(), p.symlink_to(p)), "symlink loop"),
    "fifo": (lambda p: (p.unlink(), os.mkfifo(p)), r"not a regular file \(a FIFO\)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_WEIGHTS))
def test_broken_weights_in_predict_eval_and_from_pretrained(copy, tmp_path, capsys, case):
    damage, cause = BROKEN_WEIGHTS[case]
    damage(copy / "best" / "model.safetensors")
    expected = re.escape(str(copy / "best" / "model.safetensors")) + ": " + cause
    with pytest.raises(CheckpointError, match=expected):
        from_pretrained(copy / "best")
    assert main(["predict", str(_wav(tmp_path)), "--checkpoint", str(copy / "best")]) == 1
    assert main(["eval", "--checkpoint", str(copy / "best"), "--data", "test"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith(("aum predict: error: ", "aum eval: error: ")) for line in err)
    assert all(re.search(expected, line) for line in err), err


def test_unreadable_weights_say_permission_denied(copy, monkeypatch):
    weights = copy / "best" / "model.safetensors"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: os.fspath(p) != str(weights) and real_access(p, mode))
    with pytest.raises(CheckpointError, match="model.safetensors: permission denied"):  # simulated (root)
        from_pretrained(copy / "best")


def test_malformed_config_json_names_the_file(copy, capsys, tmp_path):
    (copy / "best" / "config.json").write_text('{"model_name": "aum_tiny", ')
    assert main(["predict", str(_wav(tmp_path)), "--checkpoint", str(copy / "best")]) == 1
    err = capsys.readouterr().err
    assert f"{copy / 'best' / 'config.json'}: not valid JSON" in err
    (copy / "best" / "config.json").write_text('{"meta": {}}')
    with pytest.raises(CheckpointError, match=r"config.json: missing key\(s\) \['model_name', 'model_config'\]"):
        from_pretrained(copy / "best")


@pytest.mark.parametrize("broken", ["model.safetensors", "trainer_state.pt"])
def test_resume_from_a_broken_last_names_the_file(copy, capsys, broken):
    _truncate(copy / "last" / broken)
    code = main(["train", str(copy / "config.yaml"), "--out", str(copy), "--resume", "--no-progress",
                 "train.epochs=2"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{copy / 'last' / broken}: truncated" in err and "Traceback" not in err


def test_pickled_code_and_garbage_pth_are_refused_without_suggesting_the_unsafe_switch(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"head.weight": torch.zeros(1), "x": Payload()}, tmp_path / "evil.pth")
    (tmp_path / "garbage.pth").write_bytes(os.urandom(256).replace(b"PK", b"pk").lstrip(b"\x80") or b"x")
    with pytest.raises(CheckpointError) as evil:
        create_model("aum_tiny", pretrained=str(tmp_path / "evil.pth"), depth=1, embed_dim=32)
    assert str(evil.value) == f"{tmp_path / 'evil.pth'}: refused: not a plain state dict (pickled code)"
    with pytest.raises(CheckpointError, match=r"garbage.pth: not a PyTorch checkpoint \(unknown file format\)"):
        create_model("aum_tiny", pretrained=str(tmp_path / "garbage.pth"), depth=1, embed_dim=32)
    assert "weights_only" not in str(evil.value)


def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2)
    final = tmp_path / "last"
    ckpt.write_checkpoint_dir(final, lambda d: save_pretrained(model, d))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def full_disk(directory):
        save_pretrained(model, directory)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CheckpointError, match=f"{final}: could not write the checkpoint: no space left on device"):
        ckpt.write_checkpoint_dir(final, full_disk)
    assert not (tmp_path / "last.tmp").exists()
    for key, value in from_pretrained(final).state_dict().items():
        torch.testing.assert_close(value, before[key])  # the previous good checkpoint, intact


def test_disk_full_during_training_is_one_line_and_last_stays_loadable(copy, capsys, monkeypatch):
    state_before = ckpt.load_trainer_state(copy / "last")
    real_save = ckpt.save_trainer_state

    def failing(state, directory):
        real_save(state, directory)
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 320 vs 256")  # torch's words

    monkeypatch.setattr(ckpt, "save_trainer_state", failing)
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 4096, 4096))
    code = main(["train", str(copy / "config.yaml"), "--out", str(copy), "--resume", "--no-progress",
                 "train.epochs=2"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{copy / 'last'}: could not write the checkpoint: no space left on device (4096 bytes free" in err
    assert ckpt.load_trainer_state(copy / "last")["step"] == state_before["step"]
    assert not (copy / "last.tmp").exists()
    from_pretrained(copy / "last")


def test_model_safetensors_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_pretrained(create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2), tmp_path / "m")
    finally:
        os.umask(old)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (tmp_path / "m").iterdir()}
    assert modes == {"model.safetensors": "0o644", "config.json": "0o644", "README.md": "0o644"}  # + the model card


def test_a_config_json_that_does_not_match_its_weights(copy, capsys, tmp_path):
    config = copy / "best" / "config.json"
    info = json.loads(config.read_text())
    info["model_config"]["depth"] = 3
    config.write_text(json.dumps(info))
    assert main(["predict", str(_wav(tmp_path)), "--checkpoint", str(copy / "best")]) == 1
    err = capsys.readouterr().err
    assert "model.safetensors: the weights do not fit the model: " in err and " missing (e.g. layers.2." in err
    info["model_config"]["bogus"] = 1
    config.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=r"config.json: does not describe a model \(.*bogus"):
        from_pretrained(copy / "best")


def test_a_label_list_that_does_not_match_the_classifier_is_refused(copy, tmp_path, capsys):
    config = copy / "best" / "config.json"
    info = json.loads(config.read_text())
    info["meta"]["labels"] = info["meta"]["labels"][:1]  # fewer labels than the head has classes
    config.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=r"config.json: 1 labels in meta\['labels'\] for a classifier of 2 "):
        from_pretrained(copy / "best")
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(SAMPLE_RATE // 2, dtype=np.float32) + 0.01, SAMPLE_RATE)
    assert main(["predict", str(clip), "--checkpoint", str(copy / "best")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 labels in meta['labels'] for a classifier of 2 classes" in err


def test_a_new_classifier_drops_the_checkpoint_labels(run):
    saved = from_pretrained(run / "best")
    fields = saved.config.to_dict()
    model = create_model(saved.model_name, pretrained=run / "best", **{**fields, "num_classes": 5})
    assert model.config.num_classes == 5 and "labels" not in model.meta and "frontend" in model.meta
    same = create_model(saved.model_name, pretrained=run / "best", **fields)
    assert same.meta["labels"] == saved.meta["labels"]
