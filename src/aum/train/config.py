"""Training configuration: one tree of typed sections, loaded from YAML with `section.key=value` overrides, parsed
once. Every section is checked when the recipe is loaded, before any data is read or model built: an unknown key,
name or value, a wrong type or a number out of range is one ConfigError line naming `section.key` (and the
closest valid key or value). Each component declares its own section type:

    model     `aum.models.ModelSection`: a registered model name, its config's fields, `pretrained`
    data      the data format's config (`aum.data.source.DataConfig` subclasses, chosen by `format`)
    augment   `aum.data.augment.AugmentConfig`
    task      the task's config (`aum.train.tasks.TaskConfig` subclasses, chosen by `name`)
    frontend  `aum.audio.FrontendConfig`
    optim     `aum.train.schedule.OptimConfig`;  schedule  `aum.train.schedule.ScheduleConfig`
    train     `TrainConfig` (below)

Every key is listed in docs/CONFIG.md (generated from these classes: `python -m aum.train.config_reference`).

    cfg = load_config("configs/demo.yaml", ["optim.lr=1e-4", "train.epochs=3"])
    save_config(cfg, "runs/demo/config.yaml")
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from aum.audio import FrontendConfig
from aum.data.augment import AugmentConfig
from aum.data.build import parse_data_config
from aum.data.source import DataConfig, resolve_data_paths
from aum.errors import ConfigError, did_you_mean
from aum.models import ModelSection, parse_model_section
from aum.schema import Section, parse_scalar, parse_section, plain, setting
from aum.train.run_folder import atomic_write_text
from aum.train.schedule import OptimConfig, ScheduleConfig
from aum.train.task_registry import parse_task_config
from aum.train.tasks import ClassificationConfig, TaskConfig

__all__ = ["Config", "ConfigError", "TrainConfig", "config_from_dict", "config_to_dict", "load_config",
           "save_config"]

DEVICES = ("auto", "cpu", "cuda")


@dataclass(kw_only=True)
class TrainConfig(Section):
    """`train:` the run: epochs, batches, splits, device, precision, checkpoints and logs."""

    section: ClassVar[str] = "train"
    epochs: int = setting(10, "passes over the training split", low=1)
    batch_size: int = setting(12, "clips per micro-batch (per process under torchrun)", low=1)
    eval_batch_size: int | None = setting(None, "clips per evaluation batch (default: batch_size)", low=1)
    num_workers: int = setting(2, "DataLoader worker processes (0: load in the main process)", low=0)
    seed: int = setting(0, "seed of the weights, the data order and the augmentations")
    device: str = setting("auto", "auto (CUDA when there is one), cpu or cuda (under torchrun: each rank's own GPU)",
                          choices=DEVICES)
    amp: str = setting("auto", "mixed precision: auto (bf16 on CUDA), bf16 or off", choices=("auto", "bf16", "off"))
    ema_decay: float = setting(0.0, "exponential moving average of the weights (0 = off); with EMA, evaluation "
                               "and the best checkpoint use the averaged weights", low=0.0, high=1.0, open_high=True)
    save_every_steps: int = setting(0, "also write last/ every N optimizer steps (0: at epoch ends only)", low=0)
    log_every_steps: int = setting(20, "optimizer steps between training log lines", low=1)
    eval_every_epochs: int = setting(1, "epochs between validations (the last epoch is always validated)", low=1)
    max_steps: int = setting(0, "stop after N optimizer steps (0: no limit); for smoke tests", low=0)
    early_stop_patience: int = setting(0, "stop when the selection metric has not improved in this many "
                                       "validations (0: off); best/ keeps the best epoch", low=0)
    freeze_encoder_epochs: int = setting(0, "first epochs in which only the classifier head learns (the encoder's "
                                         "learning rate is 0): a linear-probe warm-up before full fine-tuning",
                                         low=0)
    train_split: str = setting("train", "the split trained on")
    val_split: str | None = setting("validation", "the split that picks the best checkpoint (null: none; then "
                                    "best/ is the last epoch)")
    test_split: str | None = setting("test", "evaluated with the best checkpoint at the end (null: skip)")
    balanced_sampler: bool = setting(False, "AudioSet-style class-balanced sampling with replacement")
    max_bad_fraction: float = setting(0.5, "fail the run when more than this share of an epoch's clips is "
                                      "unreadable", low=0.0, high=1.0)


@dataclass
class Config:
    """A training or pretraining recipe, every section typed (see the module docstring)."""

    model: ModelSection = field(default_factory=lambda: parse_model_section({"name": "aum_tiny"}))
    data: DataConfig | None = None  # a recipe without data can be loaded and inspected, not run
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    task: TaskConfig = field(default_factory=ClassificationConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS = tuple(f.name for f in dataclasses.fields(Config))
PARSERS: dict[str, typing.Callable[[Any], Any]] = {
    "model": parse_model_section,
    "data": lambda values: parse_data_config(values) if values else None,
    "augment": lambda values: parse_section(AugmentConfig, values),
    "frontend": lambda values: parse_section(FrontendConfig, values),
    "optim": lambda values: parse_section(OptimConfig, values),
    "schedule": lambda values: parse_section(ScheduleConfig, values),
    "train": lambda values: parse_section(TrainConfig, values),
}


def config_from_dict(raw: dict | None, default_task: str = "classification") -> Config:
    """The typed config of a raw (YAML) mapping of sections; `default_task` is the task when `task.name` is absent."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"the top level must be a mapping of sections, got {raw!r}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}{did_you_mean(unknown[0], SECTIONS)}; known sections: "
                          f"{list(SECTIONS)}")
    sections = {name: PARSERS[name](value) for name, value in raw.items() if name in PARSERS}
    sections["task"] = parse_task_config(raw.get("task"), default_task)
    return Config(**sections)


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The plain (YAML-ready) mapping of a config; `config_from_dict` of it gives the same config."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        section = getattr(cfg, name)
        if section is not None:
            out[name] = plain(section.to_dict())
    return out


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` overrides to a raw (nested dict) config; values are YAML scalars or lists."""
    raw = dict(raw or {})
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=1e-4")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"override {item!r}: the key must be section.name, e.g. train.epochs=3")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = parse_scalar(text)
    return raw


def read_recipe(path: str | Path) -> dict:
    """The raw mapping of a YAML recipe, its relative data paths resolved against the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    if isinstance(raw.get("data"), dict):
        raw["data"] = resolve_data_paths(raw["data"], path.parent)
    return raw


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = (),
                default_task: str = "classification") -> Config:
    """Read a YAML recipe (or start from defaults when `path` is None), apply dotted overrides, parse every section.

    Relative data paths written in the file are resolved against the file's folder; paths given as overrides
    are taken as they are (relative to the working directory)."""
    raw = read_recipe(path) if path is not None else {}
    try:
        return config_from_dict(apply_overrides(raw, list(overrides)), default_task)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path is not None else str(e)) from None


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    raw = config_to_dict(cfg)
    # absolute data paths: the saved file is read later from another folder (`aum eval --checkpoint DIR`)
    if "data" in raw:
        raw["data"] = resolve_data_paths(raw["data"], Path.cwd())
    atomic_write_text(Path(path), yaml.safe_dump(raw, sort_keys=False))
