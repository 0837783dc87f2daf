"""Reference selective scan (Mamba-1): the readable per-step loop every fast path is tested against.

Semantics follow mamba_ssm's `selective_scan_ref` (SPEC.md §8), computed in fp32 whatever the input dtype:
    delta' = softplus(delta + delta_bias)            (if delta_softplus)
    h_t    = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t
    y_t    = <C_t, h_t> + D * u_t
    out    = y * silu(z)                             (if z is given)
`reverse=True` runs t = L-1 ... 0, i.e. equals flip -> scan -> flip along L.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def selective_scan_ref(
    u: torch.Tensor,  # (B, D, L)
    delta: torch.Tensor,  # (B, D, L)
    A: torch.Tensor,  # (D, N)
    B: torch.Tensor,  # (B, N, L)
    C: torch.Tensor,  # (B, N, L)
    D: torch.Tensor | None = None,  # (D,)
    z: torch.Tensor | None = None,  # (B, D, L)
    delta_bias: torch.Tensor | None = None,  # (D,)
    delta_softplus: bool = False,
    reverse: bool = False,
    return_last_state: bool = False,
):
    dtype_in = u.dtype
    u, delta, B, C = u.float(), delta.float(), B.float(), C.float()
    A = A.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, length = u.shape
    h = u.new_zeros(batch, dim, A.shape[1])  # (B, D, N)
    ys = [None] * length
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        dA = torch.exp(delta[:, :, t, None] * A)  # (B, D, N)
        dBu = delta[:, :, t, None] * B[:, None, :, t] * u[:, :, t, None]  # (B, D, N)
        h = dA * h + dBu
        ys[t] = torch.einsum("bdn,bn->bd", h, C[:, :, t])  # (B, D)
    y = torch.stack(ys, dim=-1)  # (B, D, L)
    if D is not None:
        y = y + u * D.float()[None, :, None]
    if z is not None:
        y = y * F.silu(z.float())
    y = y.to(dtype_in)
    return (y, h) if return_last_state else y
