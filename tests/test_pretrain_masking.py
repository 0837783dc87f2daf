"""Masking, targets and losses of masked patch pretraining, each against a direct reference."""

import pytest
import torch

from aum.models.pretrain import (
    MaskingConfig,
    cluster_mask,
    info_nce,
    patch_targets,
    random_mask,
    sample_masks,
)


def block_cells(start: int, c: int, grid: tuple[int, int]) -> set[int]:
    """The c x c block of patches whose top-left is `start`, clipped to the grid, patch 0 excluded."""
    n_f, n_t = grid
    f0, t0 = divmod(start, n_t)
    return {f * n_t + t for f in range(f0, min(f0 + c, n_f)) for t in range(t0, min(t0 + c, n_t))} - {0}


@pytest.mark.parametrize("grid,mask_size", [((8, 64), 400), ((8, 64), 250), ((8, 8), 48), ((12, 7), 30)])
def test_cluster_mask_size_never_zero_contiguous_blocks(grid, mask_size):
    gen = torch.Generator().manual_seed(0)
    seen_c = set()
    for _ in range(40):
        index, c, starts = cluster_mask(grid, mask_size, (3, 5), gen, return_blocks=True)
        seen_c.add(c)
        assert index.dtype == torch.int64 and index.shape == (mask_size,)
        assert len(set(index.tolist())) == mask_size
        assert 0 not in index.tolist() and int(index.max()) < grid[0] * grid[1]
        blocks = [block_cells(int(s), c, grid) for s in starts]
        whole = set().union(*blocks[:-1])
        # every block but the last is masked entirely; the last one supplies the rest, nothing else is masked
        assert whole <= set(index.tolist()) <= whole | blocks[-1]
        assert len(set(index.tolist()) - whole) > 0
    assert seen_c == {3, 4, 5}


def test_cluster_mask_is_reproducible_and_spatially_clustered():
    a = cluster_mask((8, 64), 100, generator=torch.Generator().manual_seed(3))
    b = cluster_mask((8, 64), 100, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    masked = set(a.tolist())
    # most masked patches have a masked 4-neighbour (random masking at this rate would give ~40 %)
    with_neighbour = sum(any(n in masked for n in (i - 1, i + 1, i - 64, i + 64)) for i in masked)
    assert with_neighbour / len(masked) > 0.9


def test_random_mask_and_batch_sampling():
    idx = random_mask(64, 40, torch.Generator().manual_seed(1))
    assert len(set(idx.tolist())) == 40 and 0 not in idx.tolist() and int(idx.max()) < 64
    batch = sample_masks(5, (8, 8), MaskingConfig(mask_size=0.75), torch.Generator().manual_seed(2))
    assert batch.shape == (5, 48)
    assert not all(torch.equal(batch[0], row) for row in batch[1:])  # independent masks per clip


def test_mask_size_errors_are_clear():
    with pytest.raises(ValueError, match="too large"):
        MaskingConfig(mask_size=400).resolve(64)
    with pytest.raises(ValueError, match="cluster"):
        MaskingConfig(cluster_min=5, cluster_max=3)
    with pytest.raises(ValueError, match="strategy"):
        MaskingConfig(strategy="frames")
    assert MaskingConfig(mask_size=400).resolve(512) == 400
    assert MaskingConfig(mask_size=0.78125).resolve(512) == 400


def test_patch_targets_are_unfolded_patches_in_token_order():
    x = torch.randn(2, 48, 32)  # (B, T, F): grid n_f = 2, n_t = 3
    targets = patch_targets(x)
    assert targets.shape == (2, 6, 256)
    for b in range(2):
        for f in range(2):
            for t in range(3):
                patch = x[b, t * 16:(t + 1) * 16, f * 16:(f + 1) * 16].T  # (16 freq rows, 16 time cols)
                assert torch.equal(targets[b, f * 3 + t], patch.reshape(256))
    # same order as the patch-embedding convolution's flattened output (one-hot kernels pick the pixels)
    conv = torch.nn.Conv2d(1, 256, 16, stride=16, bias=False)
    conv.weight.data = torch.eye(256).reshape(256, 1, 16, 16)
    tokens = conv(x.transpose(1, 2).unsqueeze(1)).flatten(2).transpose(1, 2)  # (B, N, 256)
    torch.testing.assert_close(tokens, targets)


def info_nce_per_clip(pred, target):
    """Direct transcription of the official per-clip loop (ssast `mpc`)."""
    batch, m, _ = pred.shape
    nce, correct = torch.tensor(0.0), torch.tensor(0.0)
    for i in range(batch):
        total = torch.mm(target[i], pred[i].t())
        correct += torch.sum(torch.argmax(torch.softmax(total, dim=-1), dim=0) == torch.arange(m))
        nce += torch.sum(torch.diag(torch.log_softmax(total, dim=-1)))
    return nce / (-1.0 * batch * m), correct / (batch * m)


def test_info_nce_equals_per_clip_loop():
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 20, 256, generator=gen)
    pred = 0.1 * target + torch.randn(3, 20, 256, generator=gen)  # some right, some wrong
    nce, acc = info_nce(pred, target)
    ref_nce, ref_acc = info_nce_per_clip(pred, target)
    torch.testing.assert_close(nce, ref_nce, rtol=1e-5, atol=1e-5)
    assert float(acc) == pytest.approx(float(ref_acc))
    assert 0.0 < float(acc) < 1.0
    # gradient flows to the prediction only
    pred.requires_grad_(True)
    info_nce(pred, target)[0].backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
