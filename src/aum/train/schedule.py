"""Optimiser (Adam/AdamW with a head learning-rate multiplier) and the learning-rate schedule.

`LRSchedule` sets `group["lr"] = group["base_lr"] * factor` after every optimizer step, where
`factor = warmup(step) * shape(step)` and `shape` is multistep / cosine / plateau / constant (ScheduleConfig).
Its whole state is a few numbers (`state_dict`), so a resumed run continues on the identical curve.
"""

from __future__ import annotations

import math

import torch

from aum.errors import ConfigError
from aum.train.config import OptimConfig, ScheduleConfig

SCHEDULES = ("multistep", "cosine", "plateau", "constant")


NO_DECAY_NAMES = ("pos_embed", "cls_token", "dist_token", "cls_token_head", "cls_token_tail", "mask_embed")


def decays(name: str, param: torch.nn.Parameter) -> bool:
    """Weight decay applies to matrices and kernels only, as in mamba_ssm, timm and nanoGPT: never to parameters
    marked `_no_weight_decay` (A_log, D), to vectors and scalars (norms, biases) or to positions and special tokens."""
    if getattr(param, "_no_weight_decay", False) or param.ndim <= 1:
        return False
    return not any(part in NO_DECAY_NAMES for part in name.split("."))


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Parameter groups: the classifier head (lr x head_lr_mult) and the rest, each split into decayed and
    not-decayed parameters (`decays`). The head is `model.classifier()` when the model has one (aum models: `head`
    or AST's `mlp_head`), else `head.*`."""
    if hasattr(model, "classifier"):
        head_ids = {id(p) for p in model.classifier().parameters()}
    else:
        head_ids = {id(p) for name, p in model.named_parameters() if name.split(".")[0] == "head"}
    buckets: dict[tuple[str, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            buckets.setdefault(("head" if id(p) in head_ids else "body", decays(name, p)), []).append(p)
    groups = []
    for part in ("body", "head"):
        lr = cfg.lr * (cfg.head_lr_mult if part == "head" else 1.0)
        for decay in (True, False):
            if buckets.get((part, decay)):
                groups.append({"params": buckets[(part, decay)], "lr": lr, "base_lr": lr,
                               "weight_decay": cfg.weight_decay if decay else 0.0,
                               "name": part if decay else f"{part}_no_decay"})
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if cfg.name not in kinds:
        raise ConfigError(f"optim.name={cfg.name!r}: choose one of {sorted(kinds)}")
    return kinds[cfg.name](groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


class LRSchedule:
    """Warmup + schedule, stepped once per optimizer step; `on_metric` feeds the plateau schedule."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, steps_per_epoch: int,
                 total_steps: int, plateau_mode: str = "max"):
        if cfg.name not in SCHEDULES:
            raise ConfigError(f"schedule.name={cfg.name!r}: choose one of {list(SCHEDULES)}")
        if plateau_mode not in ("max", "min"):
            raise ConfigError(f"plateau mode {plateau_mode!r}: expected 'max' or 'min'")
        self.optimizer, self.cfg = optimizer, cfg
        self.steps_per_epoch, self.total_steps = max(1, steps_per_epoch), max(1, total_steps)
        self.plateau_mode = plateau_mode
        self.step_count = 0
        self.plateau_scale, self.plateau_best, self.plateau_bad = 1.0, None, 0
        self._apply()

    @property
    def needs_metric(self) -> bool:
        return self.cfg.name == "plateau"

    def factor(self, step: int) -> float:
        cfg = self.cfg
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
        if cfg.name == "multistep":
            epochs_done = step // self.steps_per_epoch
            passed = 0 if epochs_done < cfg.start else (epochs_done - cfg.start) // max(1, cfg.step) + 1
            return warm * cfg.decay**passed
        if cfg.name == "cosine":
            span = max(1, self.total_steps - cfg.warmup_steps)
            progress = min(1.0, max(0.0, (step - cfg.warmup_steps) / span))
            return warm * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
        if cfg.name == "plateau":
            return warm * self.plateau_scale
        return warm

    def _apply(self) -> None:
        f = self.factor(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * f

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def on_metric(self, value: float) -> None:
        """ReduceLROnPlateau: scale by `plateau_factor` after `plateau_patience` evaluations without improvement."""
        if not self.needs_metric or value is None or math.isnan(value):
            return
        better = self.plateau_best is None or (value > self.plateau_best if self.plateau_mode == "max"
                                               else value < self.plateau_best)
        if better:
            self.plateau_best, self.plateau_bad = value, 0
        else:
            self.plateau_bad += 1
            if self.plateau_bad > self.cfg.plateau_patience:
                self.plateau_scale *= self.cfg.plateau_factor
                self.plateau_bad = 0
        self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "plateau_scale": self.plateau_scale,
                "plateau_best": self.plateau_best, "plateau_bad": self.plateau_bad}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self.plateau_scale = float(state["plateau_scale"])
        self.plateau_best = state["plateau_best"]
        self.plateau_bad = int(state["plateau_bad"])
        self._apply()
