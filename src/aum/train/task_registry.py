"""The registered training objectives: `task.name` -> (builder, config dataclass of the `task:` section).

    register_task("my_task", build_my_task, MyTaskConfig)   # builder(task_cfg: dict, train_dataset) -> Task

Built in: `classification` (`aum.train.tasks`) and `pretrain` (`aum.train.pretrain`).
"""

from __future__ import annotations

from collections.abc import Callable

from aum.errors import ConfigError, did_you_mean
from aum.train.pretrain import PretrainConfig, build_pretrain_task
from aum.train.tasks import ClassificationConfig, Task, build_classification_task

TASK_BUILDERS: dict[str, Callable] = {"classification": build_classification_task, "pretrain": build_pretrain_task}
TASK_CONFIGS: dict[str, type] = {"classification": ClassificationConfig, "pretrain": PretrainConfig}


def register_task(name: str, builder: Callable, config_type: type | None = None) -> None:
    """`builder(task_cfg: dict, train_dataset) -> Task`; `config_type`, the dataclass of the `task:` section
    (without `name`), lets `load_config` check the section before anything is built."""
    TASK_BUILDERS[name] = builder
    if config_type is not None:
        TASK_CONFIGS[name] = config_type


def task_builder(task_cfg: dict) -> Callable:
    """The builder for `task.name` (default "classification")."""
    name = (task_cfg or {}).get("name", "classification")
    if name not in TASK_BUILDERS:
        raise ConfigError(f"task.name={name!r}: unknown task{did_you_mean(name, TASK_BUILDERS)}; "
                          f"known: {sorted(TASK_BUILDERS)}")
    return TASK_BUILDERS[name]


def build_task(task_cfg: dict, train_dataset) -> Task:
    cfg = dict(task_cfg or {})
    builder = task_builder(cfg)
    cfg.pop("name", None)
    return builder(cfg, train_dataset)
