"""Every section of a recipe is a typed object after `load_config`, and anything wrong in any of them (an unknown
key, an unknown name or value, a wrong type, a number out of range) is one ConfigError line when the recipe is
loaded: `aum train` stops before any data is read or model built."""

from __future__ import annotations

import pytest

from aum.audio import FrontendConfig
from aum.cli import main
from aum.data import AugmentConfig
from aum.data.readers import SpeechCommandsData
from aum.data.unlabeled import UnlabeledData
from aum.errors import ConfigError
from aum.models import ModelSection
from aum.train.config import TrainConfig, config_from_dict, config_to_dict, load_config
from aum.train.pretrain import PretrainConfig
from aum.train.schedule import OptimConfig, ScheduleConfig
from aum.train.tasks import ClassificationConfig

DATA = ["model.name=aum_tiny", "data.format=speechcommands", "data.root=does/not/exist"]


def test_every_section_is_typed_after_load():
    cfg = load_config(None, [*DATA, "model.depth=2", "augment.freqm=8"])
    expected = {"model": ModelSection, "data": SpeechCommandsData, "augment": AugmentConfig,
                "task": ClassificationConfig, "frontend": FrontendConfig, "optim": OptimConfig,
                "schedule": ScheduleConfig, "train": TrainConfig}
    for section, kind in expected.items():
        assert isinstance(getattr(cfg, section), kind), section
    assert cfg.model.config.depth == 2 and cfg.model.options == {"depth": 2} and cfg.augment.freqm == 8
    assert isinstance(load_config(None, ["task.name=pretrain"]).task, PretrainConfig)
    with pytest.raises(ConfigError, match=r"data.root is required \(the dataset folder"):
        load_config(None, ["data.format=esc50"])
    with pytest.raises(ConfigError, match=r"model.name is required"):
        load_config(None, ["model.depth=2"])


@pytest.mark.parametrize("section", ["model", "data", "augment", "task", "frontend", "optim", "schedule", "train"])
def test_a_typo_in_any_section_is_one_line_at_load(section):
    with pytest.raises(ConfigError, match=rf"^{section}: unknown key\(s\) \['colour'\]") as err:
        load_config(None, [*DATA, f"{section}.colour=1"])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("override, message", [
    ("optim.name=sgd", r"optim.name='sgd': choose one of adam, adamw"),
    ("schedule.name=cosin", r"schedule.name='cosin': choose one of .*\(did you mean 'cosine'\?\)"),
    ("train.amp=fp16", r"train.amp='fp16': choose one of auto, bf16, off"),
    ("train.device=gpu", r"train.device='gpu': choose one of auto, cpu, cuda"),
    ("task.loss=mse", r"task.loss='mse': choose one of bce, ce"),
    ("frontend.preset=esc5", r"frontend.preset='esc5': choose one of .*\(did you mean 'esc50'\?\)"),
    ("model.cls_position=centre", r"model.cls_position='centre': choose one of"),
    ("model.aum_type=v3", r"model.aum_type='v3': choose one of v1, v2, none"),
    ("optim.lr=-1", r"optim.lr=-1.0: must be > 0"),
    ("optim.betas=[0.9, 1.5]", r"optim.betas=\(0.9, 1.5\): must be in \[0, 1\)"),
    ("optim.accum_steps=0", r"optim.accum_steps=0: must be >= 1"),
    ("schedule.warmup_steps=-5", r"schedule.warmup_steps=-5: must be >= 0"),
    ("train.ema_decay=1", r"train.ema_decay=1.0: must be in \[0, 1\)"),
    ("augment.mixup=1.5", r"augment.mixup=1.5: must be in \[0, 1\]"),
    ("model.depth=0", r"model.depth=0: must be >= 1"),
    ("data.root=null", r"data.root: null is not allowed here"),
    ("train.batch_size=many", r"train.batch_size: expected int, got 'many'"),
])
def test_wrong_values_and_ranges_are_one_line_at_load(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(None, [*DATA, override])
    assert "\n" not in str(err.value)


def test_aum_train_stops_on_the_config_before_reading_any_data(tmp_path, capsys, monkeypatch):
    read = []
    monkeypatch.setattr(SpeechCommandsData, "read", lambda self, split: read.append(split))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {format: speechcommands, root: does/not/exist}\n")
    assert main(["train", str(recipe), "--out", str(tmp_path / "run"), "optim.name=sgd"]) == 1
    err = capsys.readouterr().err
    assert "optim.name='sgd': choose one of adam, adamw" in err and err.count("\n") == 1
    assert not read and not (tmp_path / "run").exists()


def test_config_round_trips_through_its_plain_form():
    cfg = load_config(None, ["model.name=ssamba_tiny", "model.depth=4", "model.patch_stride=16",
                             "model.pretrained=some/folder", "data.format=unlabeled", "data.root=tree",
                             "task.name=pretrain", "task.mask_size=48", "augment.noise_snr=[1, 2]"])
    again = config_from_dict(config_to_dict(cfg))
    assert again == cfg
    assert config_to_dict(again)["model"] == {"name": "ssamba_tiny", "depth": 4, "patch_stride": 16,
                                              "pretrained": "some/folder"}
    assert isinstance(again.data, UnlabeledData) and again.data.root == "tree"
    sources = [{"format": "audio_tree", "root": "a"},
               {"format": "speechcommands", "root": "b", "use_splits": ["train", "val"]}]
    mixed = config_from_dict({"data": {"format": "unlabeled", "sources": sources}})
    assert config_from_dict(config_to_dict(mixed)) == mixed
    assert [s.data.format for s in mixed.data.sources] == ["audio_tree", "speechcommands"]


def test_model_fields_dictated_by_the_data_must_not_contradict_the_recipe():
    cfg = load_config(None, ["model.name=aum_tiny", "model.input_frames=500"])
    with pytest.raises(ConfigError, match=r"model.input_frames=500 contradicts"):
        cfg.model.build(input_frames=100)
