"""Reference selective scan (Mamba-1): the readable per-step loop every fast path is tested against.

Semantics follow mamba_ssm's `selective_scan_ref` (SPEC.md §8), computed in fp32 whatever the input dtype:
    delta' = softplus(delta + delta_bias)            (if delta_softplus)
    h_t    = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t
    y_t    = <C_t, h_t> + D * u_t
    out    = y * silu(z)                             (if z is given)
`reverse=True` runs t = L-1 ... 0, i.e. equals flip -> scan -> flip along L. fp64 inputs are computed in fp64
(for gradcheck). `bidirectional_scan_ref` is the twin of every fused bidirectional scan: two reference calls.
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
    u, delta, A, B, C = prepare_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    batch, dim, length = u.shape
    h = u.new_zeros(batch, dim, A.shape[1])  # (B, D, N)
    ys = [None] * length
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        dA = torch.exp(delta[:, :, t, None] * A)  # (B, D, N)
        dBu = delta[:, :, t, None] * B[:, None, :, t] * u[:, :, t, None]  # (B, D, N)
        h = dA * h + dBu
        ys[t] = torch.einsum("bdn,bn->bd", h, C[:, :, t])  # (B, D)
    y = finish_output(torch.stack(ys, dim=-1), u, D, z, dtype_in)  # (B, D, L)
    return (y, h) if return_last_state else y


def prepare_inputs(u, delta, A, B, C, delta_bias, delta_softplus: bool):
    """u, delta, A, B, C in the compute dtype (fp64 for fp64 input, else fp32); delta with bias and softplus."""
    dtype = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A, B, C = (x.to(dtype) for x in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return u, delta, A, B, C


def finish_output(y, u, D, z, dtype_in):
    """y + D * u, gated by silu(z), cast back to the input dtype."""
    if D is not None:
        y = y + u * D.to(y.dtype)[None, :, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(dtype_in)


MERGES = ("sum", "mean")


def merge_directions(y_forward: torch.Tensor, y_backward: torch.Tensor, merge: str) -> torch.Tensor:
    """"sum": AuM Fo-Bi (v1) adds the two directions; "mean": Vim/SSAMBA Bi-Bi (v2) averages them."""
    if merge == "sum":
        return y_forward + y_backward
    if merge == "mean":
        return (y_forward + y_backward) * 0.5
    raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")


def backward_direction_inputs(forward: dict, backward: dict) -> dict:
    """The backward direction's inputs: each one left None reuses the forward direction's tensor."""
    return {name: forward[name] if backward[name] is None else backward[name] for name in forward}


def bidirectional_by_two_scans(scan, u, delta, A, B, C, D=None, z=None, delta_bias=None, *, A_b, u_b=None,
                               delta_b=None, B_b=None, C_b=None, D_b=None, delta_bias_b=None, delta_softplus=True,
                               merge="sum"):
    """merge(scan(forward inputs, z), scan(backward inputs, z, reverse=True)); all inputs in original time order."""
    forward = dict(u=u, delta=delta, B=B, C=C, D=D, delta_bias=delta_bias)
    backward = backward_direction_inputs(forward, dict(u=u_b, delta=delta_b, B=B_b, C=C_b, D=D_b,
                                                       delta_bias=delta_bias_b))
    y_forward = scan(A=A, z=z, delta_softplus=delta_softplus, **forward)
    y_backward = scan(A=A_b, z=z, delta_softplus=delta_softplus, reverse=True, **backward)
    return merge_directions(y_forward, y_backward, merge)


def bidirectional_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, *, A_b, u_b=None, delta_b=None,
                           B_b=None, C_b=None, D_b=None, delta_bias_b=None, delta_softplus=True, merge="sum"):
    """Reference bidirectional scan: two `selective_scan_ref` calls merged (see `bidirectional_by_two_scans`)."""
    return bidirectional_by_two_scans(selective_scan_ref, u, delta, A, B, C, D, z, delta_bias, A_b=A_b, u_b=u_b,
                                      delta_b=delta_b, B_b=B_b, C_b=C_b, D_b=D_b, delta_bias_b=delta_bias_b,
                                      delta_softplus=delta_softplus, merge=merge)
