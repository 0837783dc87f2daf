"""Self-supervised pretraining for the Trainer: `PretrainTask` (masked spectrogram patch modeling, SPEC.md §3) and
the unlabeled data it reads. Registered as `task.name: pretrain`.

YAML `data:` section of a pretraining run (`format: unlabeled`, registered as an `aum.data` reader when this module
is imported, which `aum pretrain` does first):
an audio folder tree `root`, or several sources mixed under `sources:`. A source is either `format: audio_tree`
(every audio file under `root`, recursively; a stable hash of the relative path puts `val_fraction` of the files in
the validation split) or any labeled layout of `aum.data` (labels are discarded):

    data:
      format: unlabeled
      sources:
        - {format: audio_tree, root: /data/librispeech, val_fraction: 0.01}
        - {format: json, root: /data/audioset, train: unbal.json, val: eval.json, use_splits: [train]}
      cache_dir: null

A single source can also be written flat: `{format: unlabeled, root: DIR, layout: audio_tree | speechcommands |
...}`. `use_splits` (default `[train]`) names the splits of a labeled source that feed the pretraining train set; the
validation set is always the source's own validation split (masked accuracy there selects the best checkpoint and
drives ReduceLROnPlateau).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from aum.data import READERS, Example, read_examples
from aum.data.examples import canonical_split, is_audio, require_dir, stable_fraction
from aum.errors import DataError, UnavailableError
from aum.models.pretrain import MaskingConfig, masked_patch_losses
from aum.train.tasks import autocast_for, batch_to, register_task

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
        self.amp = False  # set by the Trainer
        self.device = torch.device("cpu")

    def model_overrides(self) -> dict:
        """Pretraining needs the pretext parts and 16x16 patches without overlap; no classifier head."""
        return {"pretrain_heads": True, "patch_stride": 16, "num_classes": 0}

    def _losses(self, model, x: torch.Tensor, masking: MaskingConfig, generator=None):
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            raise UnavailableError("masked patch pretraining does not run under DistributedDataParallel yet: the "
                               "masked forward bypasses DDP's forward; pretrain on one process")
        missing = [n for n in ("mask_embed", "cpredlayer", "gpredlayer") if not hasattr(model, n)]
        if missing:
            raise ValueError(f"{type(model).__name__} has no pretext part(s) {missing}: create it with "
                             "pretrain_heads=True (model.pretrain_heads: true)")
        with autocast_for(x.device, self.amp):
            return masked_patch_losses(model, x, masking, self.cfg.objective, self.cfg.passes,
                                       self.cfg.mse_weight, generator)

    def loss(self, model, batch):
        loss, logs = self._losses(model, batch["x"], self.masking)
        return loss, {"loss": float(loss.detach()), **logs}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict[str, float]:
        model = getattr(model, "module", model)  # evaluation needs no gradient synchronisation
        device = next(model.parameters()).device
        generator = torch.Generator().manual_seed(self.cfg.eval_seed)
        sums: dict[str, float] = {}
        count = 0
        for batch in loader:
            if batch is None:
                continue
            x = batch_to(batch, device)["x"]
            loss, logs = self._losses(model, x, self.eval_masking, generator)
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
    from aum.train.config import section_from_dict

    cfg = section_from_dict(PretrainConfig, task_cfg, "task")
    if cfg.objective not in ("joint", "discriminative", "generative"):
        raise ValueError(f"task.objective must be joint, discriminative or generative, got {cfg.objective!r}")
    cfg.masking_config()  # validates the masking options now rather than at the first step
    return PretrainTask(cfg)


register_task("pretrain", build_pretrain_task, PretrainConfig)


# ---------------------------------------------------------------------------------------------- unlabeled data
def read_audio_tree(split: str, root: str | Path, val_fraction: float = 0.02) -> list[Example]:
    """Every audio file under `root` (recursively, sorted); a stable hash of the relative path picks the split."""
    root = require_dir(root, "audio")
    split = canonical_split(split)
    if split not in ("train", "val"):
        raise ValueError(f"{root}: an audio_tree source has train and val splits only, not {split!r} "
                         "(set train.test_split=null for pretraining)")
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_audio(p))
    chosen = [p for p in files if (stable_fraction(str(p.relative_to(root))) < val_fraction) == (split == "val")]
    return [Example(str(p), []) for p in chosen]


def _source_examples(source: dict, split: str) -> list[Example]:
    source = dict(source)
    if source.get("format") == "audio_tree":
        unknown = set(source) - {"format", "root", "val_fraction"}
        if unknown:
            raise ValueError(f"data source audio_tree: unknown key(s) {sorted(unknown)}; it takes root, val_fraction")
        return read_audio_tree(split, source["root"], float(source.get("val_fraction", 0.02)))
    use_splits = source.pop("use_splits", ["train"])
    splits = use_splits if canonical_split(split) == "train" else [split]
    examples = []
    for name in splits:
        found, _labels, _multilabel = read_examples(source, name)
        examples += [Example(ex.path, []) for ex in found]  # labels discarded
    return examples


def read_unlabeled(split: str, *, sources: list | None = None, root: str | None = None, layout: str = "audio_tree",
                   val_fraction: float = 0.02) -> tuple[list[Example], list[str]]:
    """`data.format: unlabeled` reader: label-free examples of `split` from the mix of `sources` (order kept), or
    from the one source at `root` in `layout` (an audio tree, or e.g. `speechcommands`: its train split, labels
    discarded). Returns (examples, no labels)."""
    if (sources is None) == (root is None):
        raise ValueError("data (format unlabeled): give either `root` (+ `layout`) or `sources` (a list)")
    if sources is None:
        sources = [{"format": layout, "root": root}]
        if layout in ("audio_tree", "folder"):
            sources[0]["val_fraction"] = val_fraction
    if not isinstance(sources, list) or not sources:
        raise ValueError("data.sources must be a non-empty list of data sources")
    examples: list[Example] = []
    for source in sources:
        found = _source_examples(source, split)
        log.info("pretraining %s: %d clips from %s %s", split, len(found), source.get("format"), source.get("root"))
        examples += found
    return examples, []


READERS.setdefault("unlabeled", read_unlabeled)  # `data.format: unlabeled` for build_dataset / run_training
