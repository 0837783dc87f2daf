"""Model cards: save_pretrained writes README.md with the model, labels, frontend, training record and how to load;
`aum train` fills the training record (data set, validation metrics)."""

from __future__ import annotations

import torch

from aum.audio import Frontend
from aum.models import create_model, from_pretrained, save_pretrained
from aum.models.card import model_card, training_record


def test_save_pretrained_writes_a_card(tmp_path):
    torch.manual_seed(0)
    m = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32)
    trained = training_record(4, 120, {"format": "speechcommands", "root": "data/sc", "cache_dir": "x"},
                              {"val_split": "validation"}, {"acc": 0.875, "loss": 0.41, "confusion": [[1]],
                                                            "bad": float("nan")})
    m.meta = {"labels": ["yes", "no", "up"], "task": {"name": "classification", "loss": "ce"},
              "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict(),
              "trained": trained}
    save_pretrained(m, tmp_path / "ckpt")
    card = (tmp_path / "ckpt" / "README.md").read_text()
    for text in ("# aum_tiny", "Audio Mamba (AuM)", "3 labels: `yes`, `no`, `up`", "32 mel bins", "48 frames",
                 "(fbank - -6.846) / (2 * 5.565)", "epoch 4, step 120", "`speechcommands`", "`data/sc`",
                 "| acc | 0.875 |", "aum.from_pretrained(", "nothing is downloaded", "softmax"):
        assert text in card, text
    assert "confusion" not in card and "nan" not in card and "cache_dir" not in card
    assert from_pretrained(tmp_path / "ckpt").meta["trained"]["metrics"] == {"acc": 0.875, "loss": 0.41}


def test_card_without_meta_says_what_is_missing():
    card = model_card("ast_tiny", {"embed_dim": 192, "num_classes": 5}, {}, 5_000_000)
    assert "No label names saved (5 outputs)" in card and "Not recorded" in card and "Not saved" in card


def test_aum_train_records_data_and_metrics_in_the_card(tmp_path):
    from aum.cli import main
    from test_train_fixtures import make_tone_dataset, tiny_recipe, write_recipe

    root = make_tone_dataset(tmp_path / "tones")
    recipe = write_recipe(tmp_path / "tiny.yaml", tiny_recipe(root))
    assert main(["train", str(recipe), "train.epochs=1", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    meta = from_pretrained(tmp_path / "run" / "best").meta
    assert meta["trained"]["data"]["root"] == str(root) and meta["trained"]["metrics"]
    card = (tmp_path / "run" / "best" / "README.md").read_text()
    assert f"`{root}`" in card and "Validation metrics of this model" in card and "| accuracy |" in card
