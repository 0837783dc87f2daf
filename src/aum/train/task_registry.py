"""The registered training objectives: `task.name` -> (config dataclass of the `task:` section, builder).

    register_task(MyTaskConfig, build_my_task)   # MyTaskConfig.name = "my_task"; builder(cfg, train_dataset) -> Task

Built in: `classification` (`aum.train.tasks`) and `pretrain` (`aum.train.pretrain`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aum.errors import ConfigError, did_you_mean
from aum.schema import parse_section
from aum.train.pretrain import PretrainConfig, build_pretrain_task
from aum.train.tasks import ClassificationConfig, Task, TaskConfig, build_classification_task

TASKS: dict[str, tuple[type[TaskConfig], Callable[..., Task]]] = {
    ClassificationConfig.name: (ClassificationConfig, build_classification_task),
    PretrainConfig.name: (PretrainConfig, build_pretrain_task),
}


def register_task(config_type: type[TaskConfig], builder: Callable[..., Task]) -> None:
    """A new objective: `config_type` is the dataclass of its `task:` section (a `TaskConfig` whose class-level
    `name` is the value of `task.name`), `builder(cfg, train_dataset) -> Task` makes the task of a run."""
    if not config_type.name:
        raise ConfigError(f"{config_type.__name__}: a task config declares its task.name as a class attribute `name`")
    TASKS[config_type.name] = (config_type, builder)


def parse_task_config(values: Any, default: str = "classification") -> TaskConfig:
    """The typed `task:` section; `name` (default `default`) picks the registered task."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"task: expected a mapping, got {values!r}")
    values = dict(values)
    name = values.pop("name", default)
    if name not in TASKS:
        raise ConfigError(f"task.name={name!r}: unknown task{did_you_mean(str(name), TASKS)}; known: {sorted(TASKS)}")
    return parse_section(TASKS[name][0], values, "task")


def build_task(cfg: TaskConfig, train_dataset) -> Task:
    """The Task of a run, from its typed `task:` section and its training dataset."""
    return TASKS[cfg.name][1](cfg, train_dataset)
