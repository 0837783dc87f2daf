"""Fine-tuning options that keep what pretraining learned: layer-wise learning-rate decay (`optim.layer_decay`), a
frozen-encoder warm-up (`train.freeze_encoder_epochs`) and early stopping (`train.early_stop_patience`)."""

import pytest
import torch
from safetensors.torch import load_file

from aum.models import create_model
from aum.train.config import config_from_dict, load_config
from aum.train.run import run_training
from aum.train.schedule import LRSchedule, build_optimizer
from aum.train.trainer import Trainer
from test_train_fixtures import make_tone_dataset, tiny_recipe


@pytest.mark.parametrize("name, blocks", [("aum_tiny", "layers"), ("ast_tiny", "blocks")])
def test_layer_decay_scales_each_depth(name, blocks):
    model = create_model(name, depth=2, num_classes=3, input_frames=64)
    optim = load_config(None, ["optim.lr=1.0", "optim.layer_decay=0.5", "optim.head_lr_mult=2"]).optim
    lr_of = {id(p): g["lr"] for g in build_optimizer(model, optim).param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert lr_of[id(named["patch_embed.proj.weight"])] == 0.125  # depth 2: embeddings 0.5^3
    assert lr_of[id(named[f"{blocks}.0.{'mixer.in_proj' if blocks == 'layers' else 'attn.qkv'}.weight"])] == 0.25
    assert lr_of[id(named[f"{blocks}.1.{'mixer.in_proj' if blocks == 'layers' else 'attn.qkv'}.weight"])] == 0.5
    head = next(n for n in named if n.startswith(("head.", "mlp_head.")))
    assert lr_of[id(named[head])] == 2.0
    plain = build_optimizer(model, load_config(None, ["optim.lr=1.0"]).optim)  # off: the same groups as before
    assert [g["name"] for g in plain.param_groups] == ["body", "body_no_decay", "head", "head_no_decay"]


def test_frozen_encoder_learns_nothing_while_the_head_learns(tmp_path):
    model = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2, input_frames=32, mel_bins=16)
    optimizer = build_optimizer(model, load_config(None, ["optim.name=adamw", "optim.weight_decay=0.1"]).optim)
    schedule = LRSchedule(optimizer, load_config(None, ["schedule.warmup_steps=0"]).schedule, 1, 10)
    schedule.freeze_encoder(True)
    assert {g["name"]: g["lr"] > 0 for g in optimizer.param_groups} == {
        "body": False, "body_no_decay": False, "head": True, "head_no_decay": True}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss = model(torch.randn(3, 32, 16)).logsumexp(-1).mean()
    loss.backward()
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.weight", "head.bias"}
    schedule.freeze_encoder(False)
    assert all(g["lr"] > 0 for g in optimizer.param_groups)


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return make_tone_dataset(tmp_path_factory.mktemp("ft") / "tones", {"train": 4, "val": 1})


def test_freeze_epochs_in_a_run(tones, tmp_path):
    cfg = config_from_dict(tiny_recipe(tones, train={"epochs": 1, "test_split": None, "freeze_encoder_epochs": 1}))
    run_training(cfg, tmp_path / "run")
    trained = load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    torch.manual_seed(cfg.train.seed)
    fresh = create_model("aum_tiny", depth=2, embed_dim=32, num_classes=2, input_frames=48, mel_bins=32,
                         pretrain_heads=False).state_dict()
    assert all(torch.equal(trained[k], fresh[k]) for k in fresh if not k.startswith("head."))
    assert not torch.equal(trained["head.weight"], fresh["head.weight"])


def test_early_stopping_after_patience_validations_without_improvement(tones, tmp_path, monkeypatch):
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.9])
    monkeypatch.setattr(Trainer, "evaluate", lambda self: {"loss": 1.0, "accuracy": next(scores)})
    cfg = config_from_dict(tiny_recipe(tones, train={"epochs": 6, "test_split": None, "early_stop_patience": 2}))
    summary = run_training(cfg, tmp_path / "run")
    assert summary["epochs"] == 4 and summary["best_epoch"] == 1 and summary["best_accuracy"] == 0.7
