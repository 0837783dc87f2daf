"""Samplers whose order is a pure function of (seed, epoch): resumable mid-epoch and DDP-ready.

`EpochSampler` replaces RandomSampler / DistributedSampler: a per-epoch permutation (or the identity when
`shuffle=False`), padded by wrap-around to a multiple of the world size and sharded `rank::world_size`.
`BalancedSampler` draws with replacement, AudioSet-style: weight of a clip = sum over its labels of 1 / (number
of clips carrying that label), so rare classes are seen as often as common ones.
Call `set_epoch(epoch, start)` before each epoch; `start` skips the first samples of this rank (resume).
"""

from __future__ import annotations

import math
from collections import Counter

import torch
from torch.utils.data import Sampler

from aum.errors import DataError


def dist_rank_world() -> tuple[int, int]:
    """(rank, world_size) of the initialised process group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochSampler(Sampler[int]):
    def __init__(self, num_items: int, shuffle: bool = True, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, drop_last: bool = False):
        if num_items <= 0:
            raise DataError("sampler: the dataset is empty")
        default_rank, default_world = dist_rank_world()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_world if world_size is None else world_size
        self.num_items, self.shuffle, self.seed, self.drop_last = num_items, shuffle, seed, drop_last
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's order; skip the first `start` samples of this rank (to resume mid-epoch)."""
        self.epoch, self.start = epoch, start

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)

    def per_rank(self) -> int:
        divide = math.floor if self.drop_last else math.ceil
        return divide(self.total_draws() / self.world_size)

    def total_draws(self) -> int:
        return self.num_items

    def order(self) -> torch.Tensor:
        """All ranks' indices for this epoch (length total_draws)."""
        if self.shuffle:
            return torch.randperm(self.num_items, generator=self.generator())
        return torch.arange(self.num_items)

    def __iter__(self):
        order = self.order()
        needed = self.per_rank() * self.world_size
        if needed > order.numel():  # pad by wrap-around, as DistributedSampler does
            order = torch.cat([order] * math.ceil(needed / order.numel()))
        shard = order[:needed][self.rank::self.world_size]
        return iter(shard[self.start:].tolist())

    def __len__(self) -> int:
        return max(self.per_rank() - self.start, 0)


def balanced_weights(targets: list[list[int]]) -> torch.Tensor:
    """(N,) weight per clip = sum over its labels of 1 / label frequency."""
    counts = Counter(label for target in targets for label in target)
    weights = torch.tensor([sum(1.0 / counts[label] for label in target) for target in targets], dtype=torch.float64)
    if not torch.any(weights > 0):
        raise DataError("balanced sampler: no clip has a label")
    return weights


class BalancedSampler(EpochSampler):
    """`num_samples` (default: dataset size) draws per epoch, over all ranks, with replacement by class weight."""

    def __init__(self, targets: list[list[int]], num_samples: int | None = None, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None):
        super().__init__(len(targets), shuffle=True, seed=seed, rank=rank, world_size=world_size)
        self.weights = balanced_weights(targets)
        self.num_samples = num_samples or len(targets)

    def total_draws(self) -> int:
        return self.num_samples

    def order(self) -> torch.Tensor:
        return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=self.generator())
