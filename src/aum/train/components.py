"""Check a config's component sections (`model`, `data`, `augment`, `task`) against what their builders accept,
so that a typo fails when the recipe is loaded, in one wording, before any data is indexed or model built.

Each component declares its accepted keys where it is registered: a model name its config dataclass
(`aum.models.registry`), a data format its reader's keyword arguments (`aum.data.build.READERS`), a task its
config dataclass (`register_task(name, builder, config_type)`), augmentations `AugmentConfig`.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from aum.errors import ConfigError
from aum.train.sections import coerce, section_from_dict

MODEL_KEYS = {"name", "pretrained", "checkpoint_stride"}  # consumed by create_model itself, not the model config


def check_model(model: dict) -> None:
    from aum.errors import did_you_mean
    from aum.models.registry import get_config

    name = model.get("name")
    if not name:
        raise ConfigError("model.name is required, e.g. model.name=aum_tiny (see `aum models list`)")
    try:
        config = get_config(name)
    except ValueError as e:
        raise ConfigError(f"model.name: {e}") from None
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(model) - fields - MODEL_KEYS)
    if unknown:
        raise ConfigError(f"model: unknown key(s) {unknown}{did_you_mean(unknown[0], fields | MODEL_KEYS)}; "
                          f"{name} takes {sorted(fields | MODEL_KEYS)}")
    hints = typing.get_type_hints(type(config))
    for key in sorted(set(model) & fields):
        coerce(model[key], hints[key], f"model.{key}")  # a wrong type is named here, not when the model is built


def check_task(task: dict) -> None:
    from aum.train.task_registry import TASK_CONFIGS, task_builder

    try:
        task_builder(task)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    name = task.get("name", "classification")
    if name in TASK_CONFIGS:
        section_from_dict(TASK_CONFIGS[name], {k: v for k, v in task.items() if k != "name"}, "task")


def check_components(cfg: Any) -> None:  # an aum.train.config.Config (config.py calls this)
    """Raise a one-line ConfigError for an unknown model name, data format, task name or key in any section."""
    from aum.data.augment import AugmentConfig
    from aum.data.build import reader_options

    check_model(cfg.model)
    check_task(cfg.task)
    try:
        if cfg.data:
            reader_options(cfg.data)
        AugmentConfig.from_dict(cfg.augment)
    except (ValueError, TypeError) as e:
        raise ConfigError(str(e)) from None
