"""GPU path of the Trainer: bf16 autocast on CUDA (skipped without a GPU)."""

import json

import pytest
import torch

from aum.train.config import config_from_dict
from aum.train.run import run_training
from test_train_fixtures import make_tone_dataset, tiny_recipe


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_training_on_cuda_with_ema(tmp_path):
    root = make_tone_dataset(tmp_path / "tones", {"train": 4, "val": 1, "test": 1})
    cfg = config_from_dict(tiny_recipe(root, train={"device": "cuda", "amp": "bf16", "epochs": 1,
                                                     "ema_decay": 0.9}))
    summary = run_training(cfg, tmp_path / "run")
    assert summary["steps"] == 2 and 0.0 <= summary["test"]["accuracy"] <= 1.0
    assert json.loads((tmp_path / "run" / "best" / "config.json").read_text())["meta"]["trained"]["step"] == 2
