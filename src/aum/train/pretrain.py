"""Self-supervised pretraining for the Trainer: `PretrainTask` (masked spectrogram patch modeling, REFERENCE §3),
registered as `task.name: pretrain`. The Trainer trains `task.wrap(encoder)`, a `MaskedPatchModel`, so
DistributedDataParallel wraps the masked forward like any model. Its data is `data.format: unlabeled`
(`aum.data.unlabeled`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from aum.errors import ConfigError, DataError
from aum.models.pretrain import MaskedPatchModel, MaskingConfig
from aum.train.tasks import batch_to

log = logging.getLogger(__name__)


@dataclass
class PretrainConfig:
    """`task:` section. Defaults are the SSAMBA/SSAST recipe (joint objective, two passes, mask 400)."""

    objective: str = "joint"  # joint | discriminative | generative
    passes: int = 2  # joint only: 2 = independent masks and forward passes per term (official); 1 = one pass
    mse_weight: float = 10.0
    mask_size: float = 400  # patches (int) or a fraction of the grid (0 < f < 1)
    eval_mask_size: float | None = None  # official evaluates at 400 whatever the training size; None = mask_size
    masking: str = "cluster"  # cluster | random
    cluster_min: int = 3
    cluster_max: int = 5
    eval_seed: int = 0  # validation masks come from their own generator: comparable across epochs, resume-safe

    def masking_config(self, evaluation: bool = False) -> MaskingConfig:
        size = self.eval_mask_size if evaluation and self.eval_mask_size is not None else self.mask_size
        return MaskingConfig(mask_size=size, strategy=self.masking, cluster_min=self.cluster_min,
                             cluster_max=self.cluster_max)


class PretrainTask:
    """Masked patch modeling of any encoder with pretext heads (`pretrain_heads=True`). Labels are ignored.

    Training masks draw from torch's global RNG (saved and restored by the Trainer for exact resume); validation
    masks from a generator re-seeded with `eval_seed` at every evaluation.
    """

    select_metric = "masked_acc"
    select_mode = "max"

    def __init__(self, cfg: PretrainConfig):
        self.cfg = cfg
        self.masking, self.eval_masking = cfg.masking_config(), cfg.masking_config(evaluation=True)
        self.device = torch.device("cpu")

    def model_overrides(self) -> dict:
        """Pretraining needs the pretext parts and 16x16 patches without overlap; no classifier head."""
        return {"pretrain_heads": True, "patch_stride": 16, "num_classes": 0}

    # DDP must be told: the masked forward leaves some parameters without a gradient (the classifier parts of
    # the encoder, and one pretext head when a single objective is trained).
    find_unused_parameters = True

    def _pretext(self, encoder, masking: MaskingConfig) -> MaskedPatchModel:
        cfg = self.cfg
        return MaskedPatchModel(encoder, masking, cfg.objective, cfg.passes, cfg.mse_weight)

    def wrap(self, model) -> MaskedPatchModel:
        """The module the Trainer trains (and wraps in DDP): the encoder inside the pretext task."""
        return self._pretext(model, self.masking)

    def loss(self, net, batch):
        loss, logs = net(batch["x"])
        return loss, {"loss": float(loss.detach()), **logs}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict[str, float]:
        model = getattr(model, "module", model)  # evaluation needs no gradient synchronisation
        device = next(model.parameters()).device
        generator = torch.Generator().manual_seed(self.cfg.eval_seed)
        pretext = self._pretext(model, self.eval_masking)
        sums: dict[str, float] = {}
        count = 0
        for batch in loader:
            if batch is None:
                continue
            x = batch_to(batch, device)["x"]
            loss, logs = pretext(x, generator)
            for key, value in {"loss": float(loss), **logs}.items():
                sums[key] = sums.get(key, 0.0) + value * len(x)
            count += len(x)
        if count == 0:
            raise DataError("pretraining validation loader yielded no usable clip")
        return {key: value / count for key, value in sums.items()}

    def checkpoint_meta(self) -> dict:
        cfg = self.cfg
        return {"task": {"name": "pretrain", "objective": cfg.objective, "passes": cfg.passes,
                         "mask_size": cfg.mask_size, "masking": cfg.masking, "mse_weight": cfg.mse_weight}}


def build_pretrain_task(task_cfg: dict, train_dataset=None) -> PretrainTask:
    from aum.train.sections import section_from_dict

    cfg = section_from_dict(PretrainConfig, task_cfg, "task")
    if cfg.objective not in ("joint", "discriminative", "generative"):
        raise ConfigError(f"task.objective must be joint, discriminative or generative, got {cfg.objective!r}")
    cfg.masking_config()  # validates the masking options now rather than at the first step
    return PretrainTask(cfg)



