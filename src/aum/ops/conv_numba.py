"""Compiled depthwise (anti)causal conv1d + silu for CPU inference: the Mamba mixer's short conv in one pass.

`causal_conv_silu(x, weight, bias, anticausal)` equals `silu(causal_conv(x))` (or the anti-causal twin) of
`aum.models.mamba`, the plain-torch reference it is tested against. Torch spends a padded copy plus K multiply-add
passes over (B, E, L) on it (oneDNN's grouped conv1d is slower still); here each (batch, channel) row is read once,
in parallel over rows, vectorised along time. It has no backward: the mixer uses it only when no gradient is
needed, and the torch path otherwise.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from aum.ops.scan_numba_kernels import fast_exp


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _conv_silu(x, weight, bias, out, anticausal, one):
    """out[b, e, t] = silu(bias[e] + Σ_k weight[e, k] x[b, e, s_k(t)]), s_k = t - (K-1-k) (causal) or t + (K-1-k)."""
    nb, ne, length = out.shape
    taps = weight.shape[1]
    for row in prange(nb * ne):
        b, e = row // ne, row % ne
        acc = out[b, e]
        acc[:] = bias[e]
        for k in range(taps):
            shift = taps - 1 - k
            w = weight[e, k]
            if anticausal:
                for t in range(length - shift):
                    acc[t] += w * x[b, e, t + shift]
            else:
                for t in range(shift, length):
                    acc[t] += w * x[b, e, t - shift]
        for t in range(length):
            v = acc[t]
            acc[t] = v / (one + fast_exp(-v))


def causal_conv_silu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                     anticausal: bool = False) -> torch.Tensor:
    """x (B, E, L) float32, weight (E, 1, K), bias (E,) or None -> silu(depthwise conv) (B, E, L), no autograd."""
    xs = x.detach().float()
    if not xs.is_contiguous():
        xs = xs.contiguous()
    out = torch.empty(xs.shape, dtype=torch.float32)
    w = weight.detach().float().reshape(weight.shape[0], -1).contiguous()
    b = torch.zeros(w.shape[0]) if bias is None else bias.detach().float().contiguous()
    _conv_silu(xs.numpy(), w.numpy(), b.numpy(), out.numpy(), anticausal, np.float32(1))
    return out.to(x.dtype)
