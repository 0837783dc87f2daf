"""Masked spectrogram patch modeling (SSAST / SSAMBA pretext task, REFERENCE §3) for any encoder of `aum.models`.

The encoder contract used here (every model of the package honours it):
  `patch_tokens(x) -> (B, N, D)` patch embedding only, `encode_tokens(tokens) -> (B, N, D)` (adds CLS and the
  positional embedding, runs the blocks and the final norm, returns the N patch positions), `patch_grid(T)`,
  and the pretext parameters `mask_embed` (1, 1, D), `cpredlayer`, `gpredlayer` (D -> 256).

Token order is frequency-major (index = f * n_t + t) for AuM, SSAMBA and SSAST alike: the official code flattens
`Conv2d` output of a (B, 1, F, T) input, and `nn.Unfold` over the same (F, T) image yields the targets in that
order, each target patch flattened as (16 frequency rows x 16 time columns).

Deliberate differences from the official `gen_maskid_patch` (documented, tested):
- clusters are true 2-D blocks clipped at the grid edge (the official 1-D index arithmetic `start + n_t*i + j`
  wraps a block's right edge into the next frequency row);
- the surplus of the last cluster is dropped in the order patches were added (the official `list(set(ids))[:M]`
  keeps the M smallest indices, an artefact of CPython's set order), so every cluster but the last is whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, overload

import torch
import torch.nn.functional as F
from torch import nn

from aum.errors import ConfigError
from aum.models.base import AudioModel

log = logging.getLogger(__name__)

PATCH = 16  # pretraining patches are 16 x 16 without overlap: 256-value targets
OBJECTIVES = ("joint", "discriminative", "generative")
MASKING_STRATEGIES = ("cluster", "random")


@dataclass
class MaskingConfig:
    """How patches are masked. `mask_size` is a patch count (int >= 1) or a fraction of the patches (0 < f < 1)."""

    mask_size: float = 400
    strategy: str = "cluster"  # "cluster" (SSAST/SSAMBA patch masking) | "random" (uniform, as frame masking)
    cluster_min: int = 3
    cluster_max: int = 5

    def __post_init__(self) -> None:
        if self.strategy not in MASKING_STRATEGIES:
            raise ConfigError(f"masking.strategy must be one of {MASKING_STRATEGIES}, got {self.strategy!r}")
        if not 1 <= self.cluster_min <= self.cluster_max:
            raise ConfigError(f"masking cluster range [{self.cluster_min}, {self.cluster_max}] is empty or < 1")
        if self.mask_size <= 0:
            raise ConfigError(f"masking.mask_size must be > 0, got {self.mask_size}")

    def resolve(self, num_patches: int) -> int:
        """The number of masked patches for a grid of `num_patches`; errors when it cannot be honoured."""
        size = int(round(self.mask_size * num_patches)) if self.mask_size < 1 else int(self.mask_size)
        if size < 2:
            raise ConfigError(f"mask_size {self.mask_size} gives {size} masked patches of {num_patches}; "
                             "the contrastive loss needs at least 2")
        if size >= num_patches - 1:
            raise ConfigError(f"mask_size {size} is too large for {num_patches} patches (patch 0 is never masked, "
                             f"so at most {num_patches - 2}); use a smaller count or a fraction such as 0.75")
        return size


@overload
def cluster_mask(grid: tuple[int, int], mask_size: int, cluster_range: tuple[int, int] = ...,
                 generator: torch.Generator | None = ..., return_blocks: Literal[False] = ...) -> torch.Tensor: ...


@overload
def cluster_mask(grid: tuple[int, int], mask_size: int, cluster_range: tuple[int, int] = ...,
                 generator: torch.Generator | None = ..., *,
                 return_blocks: Literal[True]) -> tuple[torch.Tensor, int, torch.Tensor]: ...


def cluster_mask(grid: tuple[int, int], mask_size: int, cluster_range: tuple[int, int] = (3, 5),
                 generator: torch.Generator | None = None,
                 return_blocks: bool = False) -> torch.Tensor | tuple[torch.Tensor, int, torch.Tensor]:
    """One clip's cluster mask: `mask_size` distinct patch indices (frequency-major), never index 0.

    A cluster factor c is drawn uniformly from `cluster_range` (inclusive); c x c blocks with random top-left
    patches are added until more than `mask_size` distinct patches are covered, then the first `mask_size` in order
    of addition are kept. With `return_blocks`, also returns `(c, starts)`: the top-left indices of the blocks that
    contributed, in order (every block but the last is fully masked, except patch 0).
    """
    n_f, n_t = grid
    num = n_f * n_t
    if not 0 < mask_size < num - 1:
        raise ConfigError(f"mask_size {mask_size} must be in [1, {num - 2}] for a {n_f}x{n_t} patch grid")
    lo, hi = cluster_range
    c = int(torch.randint(lo, hi + 1, (1,), generator=generator))
    offsets_f, offsets_t = torch.meshgrid(torch.arange(c), torch.arange(c), indexing="ij")
    offsets_f, offsets_t = offsets_f.reshape(-1), offsets_t.reshape(-1)  # (c*c,) block offsets, row-major
    starts = torch.empty(0, dtype=torch.long)
    chunk = 2 * mask_size // (c * c) + 8
    while True:
        starts = torch.cat([starts, torch.randint(num, (chunk,), generator=generator)])
        f = starts[:, None] // n_t + offsets_f  # (K, c*c)
        t = starts[:, None] % n_t + offsets_t
        cand = torch.where((f < n_f) & (t < n_t), f * n_t + t, 0).reshape(-1)  # clipped cells -> 0 (dropped)
        keep = cand > 0
        cand, block_of = cand[keep], torch.arange(len(starts)).repeat_interleave(c * c)[keep]
        uniq, inverse = torch.unique(cand, return_inverse=True)
        if len(uniq) > mask_size:
            break
        chunk *= 2
    first = torch.full((len(uniq),), len(cand)).scatter_reduce(0, inverse, torch.arange(len(cand)), "amin")
    order = first.argsort()[:mask_size]  # distinct patches in order of first appearance
    index = uniq[order]
    if not return_blocks:
        return index
    last_block = int(block_of[first[order[-1]]])
    return index, c, starts[: last_block + 1]


def random_mask(num_patches: int, mask_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniformly random `mask_size` distinct patch indices in [1, num_patches) (patch 0 kept, as for clusters)."""
    if not 0 < mask_size < num_patches - 1:
        raise ConfigError(f"mask_size {mask_size} must be in [1, {num_patches - 2}] for {num_patches} patches")
    return torch.randperm(num_patches - 1, generator=generator)[:mask_size] + 1


def sample_masks(batch: int, grid: tuple[int, int], cfg: MaskingConfig,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """(batch, M) int64 CPU tensor of masked patch indices, one independent mask per clip."""
    num = grid[0] * grid[1]
    size = cfg.resolve(num)
    if cfg.strategy == "random":
        rows = [random_mask(num, size, generator) for _ in range(batch)]
    else:
        rows = [cluster_mask(grid, size, (cfg.cluster_min, cfg.cluster_max), generator) for _ in range(batch)]
    return torch.stack(rows)


def patch_targets(x: torch.Tensor) -> torch.Tensor:
    """(B, T, F) normalised fbank -> (B, N, 256) raw 16x16 patches in the encoder's token order (frequency-major;
    each patch flattened frequency row by row)."""
    image = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
    return F.unfold(image, kernel_size=PATCH, stride=PATCH).transpose(1, 2)  # (B, n_f * n_t, 256)


def info_nce(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SSAST's per-clip InfoNCE over the masked patches of each clip (negatives: the clip's other masked patches).

    pred, target: (B, M, 256). Per clip, scores = target @ pred^T (M x M); nce = -mean(diag(log_softmax(scores,
    -1))); accuracy = fraction of predictions j for which argmax_i softmax(scores, -1)[i, j] is j. No temperature.
    Computed in fp32 whatever the autocast state. Returns (nce, accuracy), both scalars averaged over clips and M.
    """
    with torch.autocast(device_type=pred.device.type, enabled=False):
        scores = torch.bmm(target.float(), pred.float().transpose(1, 2))  # (B, M, M): [b, target i, pred j]
        log_probs = scores.log_softmax(dim=-1)  # normalised over predictions, per target row
        nce = -torch.diagonal(log_probs, dim1=1, dim2=2).mean()
        identity = torch.arange(scores.shape[-1], device=scores.device)
        # official: argmax over dim 0 of softmax(scores, -1), i.e. of the row-normalised scores, not the raw ones
        accuracy = (log_probs.argmax(dim=1) == identity).float().mean()
    return nce, accuracy.detach()


def _gather(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens (B, N, K), index (B, M) -> (B, M, K)."""
    return tokens.gather(1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def encode_masked(model: AudioModel, x: torch.Tensor, mask_index: torch.Tensor) -> torch.Tensor:
    """Encoder outputs at the masked positions: (B, M, D), in the order of `mask_index` (B, M).

    The learnable `mask_embed` replaces the patch embedding of masked patches before the positional embedding
    (which `encode_tokens` adds), exactly as the official models do.
    """
    tokens = model.patch_tokens(x)  # (B, N, D)
    batch, num, dim = tokens.shape
    if mask_index.max() >= num:
        raise ConfigError(f"mask index {int(mask_index.max())} out of range for {num} patches")
    masked = torch.zeros(batch, num, dtype=torch.bool, device=tokens.device)
    masked.scatter_(1, mask_index, True)
    tokens = torch.where(masked.unsqueeze(-1), model.mask_embed.to(tokens.dtype).expand(batch, num, dim), tokens)
    hidden = model.encode_tokens(tokens)  # (B, N, D)
    return _gather(hidden, mask_index)


def pretrain_grid(model: AudioModel, x: torch.Tensor) -> tuple[int, int]:
    """The (n_f, n_t) patch grid of `x` (B, T, F), checked against the 16x16 non-overlapping target patches."""
    grid = tuple(model.patch_grid(x.shape[1]))
    expect = (x.shape[2] // PATCH, x.shape[1] // PATCH)
    if grid != expect:
        raise ConfigError(f"masked patch pretraining needs 16x16 patches without overlap: the model's grid is "
                         f"{grid} but unfolding {tuple(x.shape[1:])} gives {expect}; create the model with "
                         f"patch_stride=16 (overlap is for fine-tuning only)")
    return grid


def masked_patch_losses(model: AudioModel, x: torch.Tensor, masking: MaskingConfig, objective: str = "joint",
                        passes: int = 2, mse_weight: float = 10.0,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The pretext loss of one batch x (B, T, F) and its logs {"nce", "mse", "masked_acc"} (floats).

    objective "joint": nce + mse_weight * mse; with passes=2 (official) the discriminative and generative terms come
    from two forward passes with independently sampled masks; passes=1 uses one mask and one forward pass for both
    heads (half the compute; not what the papers did). "discriminative" / "generative": one term, one pass.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if passes not in (1, 2):
        raise ConfigError(f"passes must be 1 or 2, got {passes}")
    grid = pretrain_grid(model, x)
    targets = patch_targets(x).detach()  # (B, N, 256), no gradient through the targets
    logs: dict[str, float] = {}
    loss = x.new_zeros(())
    index = sample_masks(x.shape[0], grid, masking, generator).to(x.device)  # (B, M)
    hidden = encode_masked(model, x, index) if objective != "generative" else None
    if objective in ("joint", "discriminative"):
        nce, acc = info_nce(model.cpredlayer(hidden), _gather(targets, index))
        loss = loss + nce
        logs.update(nce=float(nce.detach()), masked_acc=float(acc))
    if objective in ("joint", "generative"):
        if hidden is None or passes == 2:
            index = sample_masks(x.shape[0], grid, masking, generator).to(x.device)
            hidden = encode_masked(model, x, index)
        mse = F.mse_loss(model.gpredlayer(hidden).float(), _gather(targets, index).float())
        loss = loss + (mse_weight if objective == "joint" else 1.0) * mse
        logs["mse"] = float(mse.detach())
    return loss, logs


class MaskedPatchModel(nn.Module):
    """The pretext task as a module: `MaskedPatchModel(encoder, masking)(x) -> (loss, logs)`.

    It holds the encoder (its parameters are the encoder's: saving the encoder saves everything trained), so that
    DistributedDataParallel can wrap it like any model and synchronise the gradients of the masked forward.
    """

    def __init__(self, encoder: AudioModel, masking: MaskingConfig, objective: str = "joint", passes: int = 2,
                 mse_weight: float = 10.0) -> None:
        super().__init__()
        missing = [n for n in ("mask_embed", "cpredlayer", "gpredlayer") if not hasattr(encoder, n)]
        if missing:
            raise ConfigError(f"{type(encoder).__name__} has no pretext part(s) {missing}: create it with "
                             "pretrain_heads=True (model.pretrain_heads: true)")
        self.encoder, self.masking = encoder, masking
        self.objective, self.passes, self.mse_weight = objective, passes, mse_weight

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor,
                                                                                           dict[str, float]]:
        return masked_patch_losses(self.encoder, x, self.masking, self.objective, self.passes, self.mse_weight,
                                   generator)
