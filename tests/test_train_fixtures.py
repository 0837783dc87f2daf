"""Tiny generated data and a tiny recipe shared by the training tests (imported by test_train_*, test_resume,
test_ddp, test_cli_*): two classes of tones, folder-per-class layout with train/val/test sub-folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import yaml

SAMPLE_RATE = 16000
CLASSES = {"low": 300.0, "high": 2500.0}


def make_tone_dataset(root: Path, per_class: dict[str, int] | None = None, seconds: float = 0.5) -> Path:
    """root/{train,val,test}/{low,high}/NN.wav: noisy tones, a different frequency per class."""
    per_class = per_class or {"train": 8, "val": 2, "test": 2}
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    for split, n in per_class.items():
        for name, freq in CLASSES.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                f = freq * rng.uniform(0.9, 1.1)
                wav = 0.3 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))
                soundfile.write(folder / f"{i:02d}.wav", wav.astype(np.float32), SAMPLE_RATE)
    return root


def tiny_recipe(data_root: Path, **sections) -> dict:
    """A recipe small enough for CI: a 2-layer, 32-wide AuM over 48 frames x 32 mel bins (6 tokens)."""
    recipe = {
        "model": {"name": "aum_tiny", "depth": 2, "embed_dim": 32},
        "data": {"format": "folder", "root": str(data_root)},
        "task": {"name": "classification", "loss": "ce"},
        "frontend": {"preset": "speechcommands", "num_mel_bins": 32, "target_frames": 48},
        "optim": {"name": "adam", "lr": 3e-3},
        "schedule": {"name": "multistep", "warmup_steps": 2, "start": 1, "step": 1, "decay": 0.5},
        "train": {"epochs": 2, "batch_size": 4, "num_workers": 0, "log_every_steps": 1, "device": "cpu",
                  "val_split": "val", "test_split": "test"},
    }
    for name, values in sections.items():
        recipe.setdefault(name, {}).update(values)
    return recipe


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_tone_dataset_layout(tmp_path):
    root = make_tone_dataset(tmp_path / "tones", {"train": 1, "val": 1})
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav")) == [
        "train/high/00.wav", "train/low/00.wav", "val/high/00.wav", "val/low/00.wav"]
