"""End to end through the CLI: train -> eval -> predict -> embed on a tiny generated folder dataset, with an
unreadable clip in the train and test splits (skipped and counted, never fatal)."""

import json

import numpy as np
import pytest
import soundfile

import aum
from aum.cli import main
from test_train_fixtures import SAMPLE_RATE, make_tone_dataset, tiny_recipe, write_recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    root = make_tone_dataset(tmp / "tones")
    for split in ("train", "test"):
        (root / split / "low" / "corrupt.wav").write_bytes(b"RIFF not really a wav file")
    recipe = write_recipe(tmp / "tiny.yaml", tiny_recipe(root))
    run = tmp / "run"
    assert main(["train", str(recipe), "train.epochs=2", "--out", str(run), "--no-progress"]) == 0
    return tmp, root, run


def test_train_writes_checkpoints_logs_and_curves(trained):
    _, _, run = trained
    for name in ("best/model.safetensors", "best/config.json", "best/train_config.yaml", "last/trainer_state.pt",
                 "config.yaml", "logs/train.csv", "logs/eval.csv", "curves.png", "test_metrics.json"):
        assert (run / name).is_file(), name
    meta = json.loads((run / "best" / "config.json").read_text())["meta"]
    assert meta["labels"] == ["high", "low"] and meta["frontend"]["target_frames"] == 48
    assert meta["task"] == {"name": "classification", "loss": "ce", "multilabel": False}
    assert len((run / "logs" / "eval.csv").read_text().splitlines()) == 3  # header + 2 epochs
    with pytest.raises(ValueError, match="already holds a run"):
        main(["-v", "train", str(run / "config.yaml"), "--out", str(run), "--no-progress"])


def test_eval_counts_the_bad_clip_and_writes_confusion(trained, capsys):
    _, _, run = trained
    assert main(["eval", "--checkpoint", str(run / "best"), "--data", "test"]) == 0
    report = json.loads((run / "best" / "eval_test" / "metrics.json").read_text())
    assert report["bad_clips"] == 1 and report["num_clips"] == 4
    assert 0.0 <= report["accuracy"] <= 1.0 and len(report["per_class"]) == 2
    assert (run / "best" / "eval_test" / "confusion.png").is_file()
    assert "accuracy" in capsys.readouterr().out


def test_predict_json_table_and_long_clip(trained, capsys):
    tmp, root, run = trained
    long = np.concatenate([soundfile.read(root / "test" / "high" / "00.wav")[0]] * 4)  # 2 s: several windows
    soundfile.write(tmp / "long.wav", long, SAMPLE_RATE)
    assert main(["predict", str(tmp / "long.wav"), "--checkpoint", str(run / "best"), "--json", "--top-k", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    (pred,) = result["predictions"]
    assert {label for label, _ in pred["top"]} == {"high", "low"}
    assert main(["predict", str(root / "test"), "--checkpoint", str(run / "best"), "--whole"]) == 0
    out = capsys.readouterr().out
    assert "corrupt.wav" in out and "1 file(s) skipped" in out


def test_python_api_predict_and_embed(trained, tmp_path):
    _, root, run = trained
    model = aum.from_pretrained(run / "best")
    wav, sr = soundfile.read(root / "test" / "low" / "00.wav")
    top = model.predict(wav, sr, top_k=2)
    assert [label for label, _ in top] != [] and abs(sum(score for _, score in top) - 1.0) < 1e-4  # CE: softmax
    assert main(["embed", str(root / "test"), "--checkpoint", str(run / "best"), "--out", str(tmp_path)]) == 0
    clip = np.load(tmp_path / "low" / "00.clip.npy")
    tokens = np.load(tmp_path / "low" / "00.tokens.npy")
    assert clip.shape == (32,) and tokens.shape[0] == 1 and tokens.shape[2] == 32
