"""Every recipe in configs/ builds its model, its task and (for the layouts we can generate here) its reader on
tiny data, so a recipe that loads is a recipe that runs."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from aum.data import build_dataset
from aum.train import load_config
from aum.train.run import build_frontend, build_model
from aum.train.tasks import build_task
from test_data_readers import make_speechcommands

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def fake_dataset(num_classes: int, multilabel: bool):
    return types.SimpleNamespace(labels=[f"c{i}" for i in range(num_classes)], multilabel=multilabel)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_recipe_builds_model_and_task(path):
    depth = 2 if "ssamba" in str(load_config(path).model.get("name")) else 1  # paired layers need an even depth
    cfg = load_config(path, [f"model.depth={depth}"])
    classes = int(cfg.model.get("num_classes", 4))
    task = build_task(cfg.task, fake_dataset(classes, cfg.data.get("format") in ("json", "audioset")))
    model = build_model(cfg, task, build_frontend(cfg.frontend))
    assert model.config.input_frames == cfg.frontend.target_frames and model.config.depth == depth


@pytest.mark.parametrize("path", [p for p in CONFIGS if "speechcommands" in p.name or p.name == "demo.yaml"],
                         ids=lambda p: p.name)
def test_speechcommands_recipes_read_tiny_data(path, tmp_path):
    root = make_speechcommands(tmp_path / "sc")
    cfg = load_config(path, [f"data.root={root}", "data.cache_dir=null"])
    if cfg.data["format"] == "unlabeled":
        pytest.skip("pretraining recipe: its reader is covered by the pretraining tests")
    dataset = build_dataset(cfg.data, "train", build_frontend(cfg.frontend), cfg.augment)
    item = dataset[0]
    assert item["x"].shape == (cfg.frontend.target_frames, cfg.frontend.num_mel_bins)
