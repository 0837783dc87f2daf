"""Every recipe in configs/ builds its reader, its dataset, its task and its model on tiny data in the recipe's own
on-disk layout, and runs one forward pass and loss, so a recipe that loads is a recipe that runs. The models keep
their width and input shape; only the depth is shrunk (1 block, 2 for SSAMBA's paired layers)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aum.data import DATA_FORMATS, build_dataset, read_examples
from aum.data.dataset import collate
from aum.train import load_config
from aum.train.run import build_model
from aum.train.task_registry import build_task
from tiny_layouts import MAKERS, tiny_data

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def layouts(data_cfg: dict) -> set[str]:
    """The on-disk layouts a `data:` section reads (each source's, for `format: unlabeled`)."""
    if data_cfg["format"] != "unlabeled":
        return {data_cfg["format"]}
    if "sources" in data_cfg:
        return set().union(*(layouts(source) for source in data_cfg["sources"]))
    return {data_cfg.get("layout", "audio_tree")}


def test_every_recipe_layout_has_a_tiny_fixture():
    used = set().union(*(layouts(load_config(path).data.to_dict()) for path in CONFIGS))
    assert used <= set(MAKERS), f"no tiny fixture for {sorted(used - set(MAKERS))}"
    assert set(DATA_FORMATS) - {"unlabeled", "webdataset"} <= set(MAKERS)  # webdataset: tests/test_data_webdataset.py


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_recipe_reads_tiny_data_builds_and_runs_one_loss(path, tmp_path):
    depth = 2 if "ssamba" in load_config(path).model.name else 1  # paired layers need an even depth
    cfg = load_config(path, [f"model.depth={depth}"])
    frontend = cfg.frontend.build()
    data_cfg = tiny_data(cfg.data, tmp_path / "data")
    if cfg.train.val_split:
        assert read_examples(data_cfg, cfg.train.val_split)[0]  # the validation split has clips too
    dataset = build_dataset(data_cfg, cfg.train.train_split, frontend, cfg.augment)
    item = dataset[0]
    assert item["x"].shape == (cfg.frontend.target_frames, cfg.frontend.num_mel_bins)

    task = build_task(cfg.task, dataset)
    model = build_model(cfg, task, frontend)
    assert model.config.input_frames == cfg.frontend.target_frames and model.config.depth == depth
    net = task.wrap(model) if hasattr(task, "wrap") else model
    torch.manual_seed(0)
    with torch.no_grad():  # the forward and the loss; training steps are tested elsewhere
        loss, logs = task.loss(net, collate([item]))
    assert loss.ndim == 0 and torch.isfinite(loss) and logs["loss"] == pytest.approx(float(loss))
