"""Reference depthwise causal conv1d with a carried state: the readable twin of the mixer's short conv.

`causal_conv_ref(x, weight, bias)` equals `causal_conv` of `aum.models.mamba` (out[t] sees x[t-K+1 .. t], zeros
before the start); `silu` of it is what the compiled `causal_conv_silu` (`conv_numba.py`) computes. For streaming,
`conv_state` (B, E, K-1) holds the last K-1 input samples of the previous chunk (None: zeros, today's causal
padding), and `return_conv_state=True` also returns the last K-1 samples of [conv_state, x], the state for the next
chunk (right also when the chunk is shorter than K-1), so that convolving [x1, x2] equals convolving x1, then x2
from x1's state. Plain torch: autograd gives the backward, also to the state.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aum.errors import ConfigError


def check_conv_state(x: torch.Tensor, conv_state: torch.Tensor | None, taps: int) -> None:
    """A conv state must be (B, E, K-1) for x (B, E, L) and K taps (a longer one would shift every output)."""
    expected = (x.shape[0], x.shape[1], taps - 1)
    if conv_state is not None and tuple(conv_state.shape) != expected:
        raise ConfigError(f"causal conv: conv_state has shape {tuple(conv_state.shape)}, expected {expected} "
                          f"(x is (B, E, L) = {tuple(x.shape)}, K = {taps} taps)")


def with_conv_state(x: torch.Tensor, conv_state: torch.Tensor | None, taps: int) -> torch.Tensor:
    """[conv_state, x] along time (B, E, K-1 + L); a None state is K-1 zeros (the causal padding)."""
    if conv_state is None:
        return F.pad(x, (taps - 1, 0))
    return torch.cat([conv_state.to(x.dtype), x], dim=-1)


def next_conv_state(x: torch.Tensor, conv_state: torch.Tensor | None, taps: int) -> torch.Tensor:
    """The last K-1 samples of [conv_state, x] (B, E, K-1): the state after the chunk x (B, E, L), any L."""
    return with_conv_state(x, conv_state, taps)[..., x.shape[-1]:]


def causal_conv_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    conv_state: torch.Tensor | None = None,
                    return_conv_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Depthwise causal conv1d of x (B, E, L) with weight (E, 1, K), bias (E,) or None -> (B, E, L); with
    `return_conv_state`, (out, the last K-1 samples of [conv_state, x] (B, E, K-1))."""
    taps = weight.shape[-1]
    check_conv_state(x, conv_state, taps)
    padded = with_conv_state(x, conv_state, taps)  # (B, E, K-1 + L)
    out = F.conv1d(padded, weight.reshape(weight.shape[0], 1, taps).to(x.dtype),
                   None if bias is None else bias.to(x.dtype), groups=x.shape[1])
    return (out, padded[..., x.shape[-1]:]) if return_conv_state else out
