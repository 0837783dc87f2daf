"""Compiled depthwise (anti)causal conv1d + silu for CPU inference: the Mamba mixer's short conv in one pass.

`causal_conv_silu(x, weight, bias, anticausal)` equals `silu(causal_conv(x))` (or the anti-causal twin) of
`aum.models.mamba`, the plain-torch reference it is tested against. Torch spends a padded copy plus K multiply-add
passes over (B, E, L) on it (oneDNN's grouped conv1d is slower still); here each (batch, channel) row is read once,
in parallel over rows, vectorised along time. It has no backward: the mixer uses it only when no gradient is
needed, and the torch path otherwise. The causal conv also carries a state across chunks as `causal_conv_ref`
(`conv_ref.py`) does: `conv_state` (B, E, K-1) in, the next one out with `return_conv_state`.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from aum.errors import ConfigError
from aum.ops.conv_ref import check_conv_state, next_conv_state
from aum.ops.scan_numba_kernels import fast_exp


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _conv_silu(x, weight, bias, out, anticausal, one, state, has_state):
    """out[b, e, t] = silu(bias[e] + Σ_k weight[e, k] x[b, e, s_k(t)]), s_k = t - (K-1-k) (causal) or t + (K-1-k).
    Causal with has_state: a sample s < 0 is state[b, e, K-1+s] (B, E, K-1), else zero."""
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
                if has_state:
                    for t in range(min(shift, length)):
                        acc[t] += w * state[b, e, taps - 1 + t - shift]
        for t in range(length):
            v = acc[t]
            acc[t] = v / (one + fast_exp(-v))


def causal_conv_silu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, anticausal: bool = False,
                     conv_state: torch.Tensor | None = None,
                     return_conv_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """x (B, E, L) float32, weight (E, 1, K), bias (E,) or None -> silu(depthwise conv) (B, E, L), no autograd;
    causal only: from `conv_state` (B, E, K-1), and with `return_conv_state` also the next state (B, E, K-1)."""
    taps = weight.shape[-1]
    if anticausal and (conv_state is not None or return_conv_state):
        raise ConfigError("causal_conv_silu: conv_state is for the causal conv only (the anticausal conv reads "
                          "future samples; there is no past state to carry)")
    check_conv_state(x, conv_state, taps)
    xs = x.detach().float()
    if not xs.is_contiguous():
        xs = xs.contiguous()
    out = torch.empty(xs.shape, dtype=torch.float32)
    w = weight.detach().float().reshape(weight.shape[0], -1).contiguous()
    b = torch.zeros(w.shape[0]) if bias is None else bias.detach().float().contiguous()
    state = np.zeros((1, 1, 1), np.float32) if conv_state is None else conv_state.detach().float().contiguous().numpy()
    _conv_silu(xs.numpy(), w.numpy(), b.numpy(), out.numpy(), anticausal, np.float32(1), state,
               conv_state is not None)
    if not return_conv_state:
        return out.to(x.dtype)
    return out.to(x.dtype), next_conv_state(x.detach(), conv_state, taps)
