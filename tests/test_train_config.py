from pathlib import Path

import pytest
import torch
import yaml

from aum.train.config import ConfigError, config_to_dict, load_config, save_config
from aum.train.schedule import LRSchedule, build_optimizer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_overrides_types_and_sections(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("optim: {lr: 1e-4}\nmodel: {name: aum_tiny}\ndata: {format: folder, root: tones}\n")
    cfg = load_config(path, ["optim.lr=2.5e-4", "train.epochs=3", "optim.betas=[0.9, 0.98]", "model.depth=12",
                             "train.test_split=null", "schedule.name=cosine"])
    assert cfg.optim.lr == 2.5e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.train.epochs == 3 and cfg.optim.betas == (0.9, 0.98) and cfg.train.test_split is None
    assert cfg.model.name == "aum_tiny" and cfg.model.options == {"depth": 12} and cfg.model.config.depth == 12
    assert cfg.schedule.name == "cosine" and cfg.data.format == "folder"
    assert cfg.data.root == str((tmp_path / "tones").resolve())  # YAML paths: relative to the file
    assert load_config(None, ["optim.lr=1e-4"]).optim.lr == 1e-4  # YAML 1.1 would read "1e-4" as a string


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=1", r"optim: unknown key\(s\) \['lrr'\]"),
    ("trainer.epochs=1", r"unknown config section\(s\) \['trainer'\]"),
    ("train.epochs=1.5", r"train.epochs: expected int"),
    ("train.epochs", r"expected key=value"),
    ("epochs=3", r"section.name"),
])
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(None, ["optim.lr=3e-4", "model.name=aum_small", "augment.freqm=48"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert config_to_dict(again) == config_to_dict(cfg)


@pytest.mark.parametrize("recipe", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_recipe_loads(recipe):
    load_config(CONFIGS / recipe)


def test_demo_recipe_matches_the_demo_command():
    from aum.cli.demo import DEMO

    on_disk = yaml.safe_load((CONFIGS / "demo.yaml").read_text())
    on_disk["data"].pop("root")
    assert config_to_dict(load_config(None, [])) and on_disk == DEMO


def _factors(cfg_overrides, steps_per_epoch=10, total=60):
    cfg = load_config(None, cfg_overrides)
    model = torch.nn.Linear(2, 2)
    opt = build_optimizer(model, cfg.optim)
    sched = LRSchedule(opt, cfg.schedule, steps_per_epoch, total)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(total - 1):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs, sched, opt


def test_multistep_with_warmup_matches_the_recipe_definition():
    # AuM/AST: MultiStepLR(range(start, 1000, step), decay) stepped per epoch; linear warmup per step
    lrs, _, _ = _factors(["optim.lr=1.0", "schedule.warmup_steps=5", "schedule.start=2", "schedule.step=1",
                          "schedule.decay=0.5"])
    assert lrs[0] == pytest.approx(0.2) and lrs[4] == pytest.approx(1.0)
    assert lrs[19] == pytest.approx(1.0) and lrs[20] == pytest.approx(0.5) and lrs[30] == pytest.approx(0.25)


def test_plateau_halves_after_patience_and_resumes_exactly():
    _, sched, opt = _factors(["optim.lr=1.0", "schedule.name=plateau", "schedule.warmup_steps=0",
                              "schedule.plateau_patience=1"], total=2)
    for value in (0.5, 0.4, 0.4):
        sched.on_metric(value)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)
    state = sched.state_dict()
    _, other, opt2 = _factors(["optim.lr=1.0", "schedule.name=plateau", "schedule.warmup_steps=0"], total=2)
    other.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5)


def test_head_lr_multiplier_group():
    model = torch.nn.Module()
    model.body, model.head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 3)
    opt = build_optimizer(model, load_config(None, ["optim.lr=1e-4", "optim.head_lr_mult=3"]).optim)
    assert [g["name"] for g in opt.param_groups] == ["body", "body_no_decay", "head", "head_no_decay"]
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-4, 1e-4, 3e-4, 3e-4])


def test_saved_config_keeps_relative_data_paths_valid_from_elsewhere(tmp_path, monkeypatch):
    """`aum eval --checkpoint DIR` re-reads the saved config from DIR: data paths given relative to the working
    directory at training time must still point at the same folders."""
    from aum.train.config import config_from_dict, load_config, save_config

    monkeypatch.chdir(tmp_path)
    cfg = config_from_dict({"data": {"format": "speechcommands", "root": "demo_out/data", "cache_dir": "cache"}})
    (tmp_path / "run" / "best").mkdir(parents=True)
    save_config(cfg, tmp_path / "run" / "best" / "config.yaml")
    again = load_config(tmp_path / "run" / "best" / "config.yaml")
    assert again.data.root == str(tmp_path / "demo_out" / "data")
    assert again.data.cache_dir == str(tmp_path / "cache")


@pytest.mark.parametrize("name", ["aum_tiny", "ssamba_tiny", "ast_tiny"])
def test_weight_decay_skips_vectors_marked_params_positions_and_tokens(name):
    from aum import create_model

    model = create_model(name, num_classes=3, input_frames=128, depth=2)
    opt = build_optimizer(model, load_config(None, ["optim.weight_decay=0.1"]).optim)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    grouped = [p for g in opt.param_groups for p in g["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == sum(1 for p in model.parameters() if p.requires_grad)
    for pname, p in model.named_parameters():
        special = getattr(p, "_no_weight_decay", False) or p.ndim <= 1 or any(
            k in pname for k in ("pos_embed", "cls_token", "dist_token", "mask_embed"))
        assert (id(p) in decayed) == (not special), pname
    names = {n for n, _ in model.named_parameters()}
    assert any(n.endswith("A_log") for n in names) or name.startswith("ast")
    assert {g["name"] for g in opt.param_groups} >= {"body", "body_no_decay"}
