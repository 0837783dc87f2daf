"""The `Task` interface the Trainer drives, and `ClassificationTask` (BCE or CE; mixup is `augment.mixup`).

A task owns what is specific to an objective; the Trainer owns the loop. To plug in a new objective, implement
the protocol and register a builder: `aum.train.task_registry.register_task(name, builder, config_type)`.

Hooks the Trainer reads from a task:
- `select_metric` / `select_mode` ("max" | "min"): the evaluation metric that picks the "best" checkpoint
  (also the default metric of the plateau schedule, ReduceLROnPlateau; `schedule.plateau_metric` overrides it).
- `checkpoint_meta()`: extra entries stored in the saved model's `meta` (labels, task description).
- optional `model_overrides()`: model config fields the task dictates (e.g. `num_classes`).
- optional `wrap(model) -> nn.Module`: the module the Trainer trains and wraps in DistributedDataParallel
  (pretraining: the encoder inside its pretext task); `loss` then receives it. Default: the model itself.
- optional `find_unused_parameters` (bool): passed to DistributedDataParallel.
The Trainer runs `loss` and `evaluate` under autocast (`autocast_for`); tasks do not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from aum.errors import ConfigError, DataError
from aum.schema import Section, setting
from aum.train import metrics as M


@runtime_checkable
class Task(Protocol):
    select_metric: str
    select_mode: str

    def loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss of one batch (on the model's device) and scalar logs."""

    def evaluate(self, model: torch.nn.Module, loader) -> dict[str, float]:
        """Scalar validation metrics over a loader (the model is put in eval mode by the caller)."""

    def checkpoint_meta(self) -> dict:
        """Entries added to the saved model's meta."""


def autocast_for(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def batch_to(batch: dict, device: torch.device) -> dict:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


@dataclass(kw_only=True)
class TaskConfig(Section):
    """Base of the `task:` sections; `name` is the value of `task.name` that selects the task."""

    section: ClassVar[str] = "task"
    name: ClassVar[str] = ""

    def to_dict(self) -> dict:
        return {"name": self.name, **super().to_dict()}


@dataclass(kw_only=True)
class ClassificationConfig(TaskConfig):
    """`task: {name: classification}`: clip classification."""

    name: ClassVar[str] = "classification"
    loss: str = setting("bce", "bce (multi-label, or single-label as the Speech Commands recipe) or ce",
                        choices=("bce", "ce"))
    select_metric: str | None = setting(None, "validation metric that picks the best checkpoint (default: mAP "
                                        "for multi-label data, else accuracy)")


class ClassificationTask:
    """Clip classification. Batches are `{"x": (B, T, F), "y": (B, C)}` (one-/multi-hot)."""

    def __init__(self, cfg: ClassificationConfig, labels: list[str], multilabel: bool):
        if multilabel and cfg.loss == "ce":
            raise ConfigError("task.loss=ce cannot train multi-label data; use task.loss=bce")
        self.cfg, self.labels, self.multilabel = cfg, list(labels), multilabel
        self.select_metric = cfg.select_metric or ("mAP" if multilabel else "accuracy")
        self.select_mode = "max"
        self.device = torch.device("cpu")

    def model_overrides(self) -> dict:
        """Model config fields this task dictates: its classes, and no pretext heads (they get no gradient)."""
        return {"num_classes": len(self.labels), "pretrain_heads": False}  # unused pretext heads would stall DDP

    # ---------------------------------------------------------------------------------------------- training
    def _criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.cfg.loss == "bce":
            return F.binary_cross_entropy_with_logits(logits, y)
        return torch.sum(-y * F.log_softmax(logits, dim=-1), dim=-1).mean()

    def loss(self, model, batch):
        logits = model(batch["x"])
        loss = self._criterion(logits, batch["y"])
        return loss, {"loss": float(loss.detach())}

    # -------------------------------------------------------------------------------------------- evaluation
    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) if self.cfg.loss == "bce" else torch.softmax(logits, dim=-1)

    @torch.no_grad()
    def collect(self, model, loader) -> tuple[np.ndarray, np.ndarray, float]:
        """(scores (N, C), targets (N, C), mean loss) over a loader."""
        device = next(model.parameters()).device
        scores, targets, loss_sum, n = [], [], 0.0, 0
        for batch in loader:
            if batch is None:
                continue
            batch = batch_to(batch, device)
            logits = model(batch["x"])
            loss_sum += float(self._criterion(logits, batch["y"])) * len(logits)
            n += len(logits)
            scores.append(self.scores(logits.float()).cpu().numpy())
            targets.append(batch["y"].float().cpu().numpy())
        if n == 0:
            raise DataError("evaluation loader yielded no usable clip (every clip of the split was unreadable)")
        return np.concatenate(scores), np.concatenate(targets), loss_sum / n

    def evaluate(self, model, loader) -> dict[str, float]:
        scores, targets, loss = self.collect(model, loader)
        return {"loss": loss, **M.summary_metrics(scores, targets, self.multilabel)}

    def checkpoint_meta(self) -> dict:
        return {"labels": self.labels,
                "task": {"name": "classification", "loss": self.cfg.loss, "multilabel": self.multilabel}}


def build_classification_task(cfg: ClassificationConfig, train_dataset) -> ClassificationTask:
    return ClassificationTask(cfg, list(train_dataset.labels), bool(train_dataset.multilabel))

