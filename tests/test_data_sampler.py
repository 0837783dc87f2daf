"""EpochSampler / BalancedSampler: deterministic given (seed, epoch), DDP sharding, mid-epoch resume."""

from __future__ import annotations

from collections import Counter

import torch

from aum.data import BalancedSampler, EpochSampler, balanced_weights


def test_epoch_sampler_is_a_function_of_seed_and_epoch():
    sampler = EpochSampler(10, shuffle=True, seed=3, rank=0, world_size=1)
    sampler.set_epoch(1)
    first = list(sampler)
    sampler.set_epoch(2)
    assert sorted(first) == list(range(10)) and list(sampler) != first
    sampler.set_epoch(1)
    assert list(sampler) == first
    assert list(EpochSampler(5, shuffle=False, rank=0, world_size=1)) == [0, 1, 2, 3, 4]


def test_epoch_sampler_shards_cover_the_data_and_resume_skips():
    shards = [EpochSampler(11, seed=0, rank=r, world_size=3) for r in range(3)]
    for s in shards:
        s.set_epoch(4)
    drawn = [list(s) for s in shards]
    assert all(len(d) == 4 for d in drawn) and set(sum(drawn, [])) == set(range(11))  # padded to 12
    shards[1].set_epoch(4, start=3)
    assert list(shards[1]) == drawn[1][3:] and len(shards[1]) == 1


def test_balanced_weights_and_draws():
    targets = [[0]] * 90 + [[1]] * 10 + [[0, 1]]
    weights = balanced_weights(targets)
    assert torch.isclose(weights[0], torch.tensor(1 / 91, dtype=torch.float64))
    assert torch.isclose(weights[-1], torch.tensor(1 / 91 + 1 / 11, dtype=torch.float64))
    sampler = BalancedSampler(targets, num_samples=4000, seed=1, rank=0, world_size=1)
    sampler.set_epoch(0)
    drawn = list(sampler)
    share_rare = sum(1 for i in drawn if 1 in targets[i]) / len(drawn)
    assert 0.4 < share_rare < 0.65  # ~half, not ~11 %
    again = BalancedSampler(targets, num_samples=4000, seed=1, rank=0, world_size=1)
    again.set_epoch(0)
    assert list(again) == drawn


def test_balanced_sampler_ranks_split_one_draw():
    targets = [[i % 4] for i in range(20)]
    ranks = [BalancedSampler(targets, seed=5, rank=r, world_size=2) for r in range(2)]
    whole = BalancedSampler(targets, seed=5, rank=0, world_size=1)
    for s in (*ranks, whole):
        s.set_epoch(7)
    assert Counter(list(ranks[0]) + list(ranks[1])) == Counter(list(whole))
    assert len(ranks[0]) == 10
