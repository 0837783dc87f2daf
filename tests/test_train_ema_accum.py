"""EMA weights are what "best" holds; gradient accumulation takes one optimizer step per `accum_steps` batches."""

import pytest
import torch
from safetensors.torch import load_file

from aum.train.config import config_from_dict
from aum.train.run import run_training
from test_train_fixtures import make_tone_dataset, tiny_recipe


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ema")
    root = make_tone_dataset(tmp / "tones", {"train": 4, "val": 1})
    common = {"epochs": 1, "batch_size": 2, "test_split": None}
    ema = run_training(config_from_dict(tiny_recipe(root, train={**common, "ema_decay": 0.5},
                                                    optim={"accum_steps": 2})), tmp / "ema")
    return tmp, ema


def test_accumulation_steps(runs):
    _, summary = runs
    assert summary["steps"] == 2  # 8 clips / batch 2 = 4 batches / accum 2


def test_best_holds_the_ema_weights(runs):
    tmp, _ = runs
    best, last = load_file(str(tmp / "ema" / "best" / "model.safetensors")), load_file(
        str(tmp / "ema" / "last" / "model.safetensors"))
    state = torch.load(tmp / "ema" / "last" / "trainer_state.pt", weights_only=True)
    assert all(torch.equal(best[k], state["ema"][k].cpu()) for k in best)
    assert any(not torch.equal(best[k], last[k]) for k in best)  # raw weights differ from their average
