"""Training and evaluation: config tree, the Task interface, the Trainer loop, metrics, checkpoints.

    from aum.train import load_config, run_training
    summary = run_training(load_config("configs/demo.yaml", ["train.epochs=3"]), "runs/demo")

Modules: `config` (the typed recipe: YAML + overrides, parsed once), `tasks` (Task protocol, ClassificationTask),
`task_registry` (register_task), `schedule` (optimizer, learning-rate schedule and their configs), `trainer` (the
loop), `run` (config -> datasets, model, Trainer), `run_folder` (atomic checkpoint folders, resume state),
`evaluate` (a checkpoint on a split), `metrics`, `distributed`, `guards`, `logging_utils`, `plots`, `recipes`,
`config_reference` (docs/CONFIG.md). `pretrain` (masked patch modelling) plugs a PretrainTask into the same
Trainer.
"""

from aum.train.config import Config, ConfigError, load_config, save_config
from aum.train.run import run_training
from aum.train.task_registry import build_task, register_task
from aum.train.tasks import ClassificationTask, Task
from aum.train.trainer import Trainer

__all__ = ["ClassificationTask", "Config", "ConfigError", "Task", "Trainer", "build_task", "load_config",
           "register_task", "run_training", "save_config"]
