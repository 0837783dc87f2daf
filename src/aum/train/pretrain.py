"""Self-supervised pretraining for the Trainer: `PretrainTask` (masked spectrogram patch modeling, REFERENCE §3),
registered as `task.name: pretrain`. The Trainer trains `task.wrap(encoder)`, a `MaskedPatchModel`, so
DistributedDataParallel wraps the masked forward like any model. Its data is `data.format: unlabeled`
(`aum.data.unlabeled`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import torch

from aum.errors import DataError
from aum.models.pretrain import MASKING_STRATEGIES, OBJECTIVES, MaskedPatchModel, MaskingConfig
from aum.schema import setting
from aum.train.tasks import TaskConfig, batch_to

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PretrainConfig(TaskConfig):
    """`task: {name: pretrain}`: masked spectrogram patch modelling. Defaults are the SSAMBA / SSAST recipe (joint
    objective, two passes, mask 400)."""

    name: ClassVar[str] = "pretrain"
    objective: str = setting("joint", "joint (InfoNCE + mse_weight x MSE), discriminative (InfoNCE) or generative "
                             "(MSE)", choices=OBJECTIVES)
    passes: int = setting(2, "joint only: 2 = independent masks and forward passes per term (official); 1 = one "
                          "pass", choices=(1, 2))
    mse_weight: float = setting(10.0, "weight of the MSE term of the joint objective", low=0.0)
    mask_size: float = setting(400, "masked patches per clip: a count, or a fraction of the grid (0 < f < 1)",
                               low=0.0, open_low=True)
    eval_mask_size: float | None = setting(None, "masked patches at validation (official: 400 whatever the "
                                           "training size); null = mask_size", low=0.0, open_low=True)
    masking: str = setting("cluster", "cluster (SSAST's contiguous clusters) or random patches",
                           choices=MASKING_STRATEGIES)
    cluster_min: int = setting(3, "cluster masking: smallest cluster side", low=1)
    cluster_max: int = setting(5, "cluster masking: largest cluster side", low=1)
    eval_seed: int = setting(0, "seed of the validation masks (comparable across epochs, resume-safe)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.masking_config()  # the masking options are checked now, not at the first step

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


def build_pretrain_task(cfg: PretrainConfig, train_dataset=None) -> PretrainTask:
    return PretrainTask(cfg)



