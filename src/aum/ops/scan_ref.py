"""Reference selective scan (Mamba-1): the readable per-step loop every fast path is tested against.

Semantics follow mamba_ssm's `selective_scan_ref` (docs/REFERENCE.md §8), computed in fp32 whatever the input dtype:
    delta' = softplus(delta + delta_bias)            (if delta_softplus)
    h_t    = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t
    y_t    = <C_t, h_t> + D * u_t
    out    = y * silu(z)                             (if z is given)
`reverse=True` runs t = L-1 ... 0, i.e. equals flip -> scan -> flip along L. fp64 inputs are computed in fp64
(for gradcheck). State across calls (streaming): `initial_state` (B, D, N) is h before the first scanned step
(None: zeros) and `return_last_state=True` also returns h after the last one, so that scanning [x1, x2] equals
scanning x1, then x2 from x1's last state (values and gradients). Scan order counts: with `reverse=True` the initial
state enters at t = L-1 and the last state is the one after t = 0.
`bidirectional_scan_ref` is the twin of every fused bidirectional scan: two reference calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, overload

import torch
import torch.nn.functional as F

from aum.errors import ConfigError

OptionalTensor = torch.Tensor | None
ScanFunction = Callable[..., torch.Tensor]  # a selective scan with `selective_scan_ref`'s arguments


@overload
def selective_scan_ref(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                       D: OptionalTensor = ..., z: OptionalTensor = ..., delta_bias: OptionalTensor = ...,
                       delta_softplus: bool = ..., reverse: bool = ..., initial_state: OptionalTensor = ...,
                       return_last_state: Literal[False] = ...) -> torch.Tensor: ...


@overload
def selective_scan_ref(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                       D: OptionalTensor = ..., z: OptionalTensor = ..., delta_bias: OptionalTensor = ...,
                       delta_softplus: bool = ..., reverse: bool = ..., initial_state: OptionalTensor = ..., *,
                       return_last_state: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...


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
    initial_state: torch.Tensor | None = None,  # (B, D, N): h before the first scanned step (t = L-1 if reverse)
    return_last_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """y (B, D, L) in u's dtype; with `return_last_state`, (y, h after the last scanned step): h (B, D, N) in the
    compute dtype (fp32; fp64 for fp64 inputs)."""
    dtype_in = u.dtype
    u, delta, A, B, C = prepare_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    h = start_state(initial_state, u, A)  # (B, D, N)
    ys = []  # (B, D) per step, in scan order
    steps = range(u.shape[-1] - 1, -1, -1) if reverse else range(u.shape[-1])
    for t in steps:
        dA = torch.exp(delta[:, :, t, None] * A)  # (B, D, N)
        dBu = delta[:, :, t, None] * B[:, None, :, t] * u[:, :, t, None]  # (B, D, N)
        h = dA * h + dBu
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))  # (B, D)
    y = torch.stack(ys[::-1] if reverse else ys, dim=-1)  # (B, D, L) in time order
    y = finish_output(y, u, D, z, dtype_in)
    return (y, h) if return_last_state else y


def prepare_inputs(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   delta_bias: OptionalTensor, delta_softplus: bool) -> tuple[torch.Tensor, ...]:
    """u, delta, A, B, C in the compute dtype (fp64 for fp64 input, else fp32); delta with bias and softplus."""
    dtype = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A, B, C = (x.to(dtype) for x in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return u, delta, A, B, C


def start_state(initial_state: OptionalTensor, u: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """The state before the first scanned step, (B, D, N) in u's (compute) dtype: zeros when none is given."""
    if initial_state is None:
        return u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    return initial_state.to(u.dtype)


def finish_output(y: torch.Tensor, u: torch.Tensor, D: OptionalTensor, z: OptionalTensor,
                  dtype_in: torch.dtype) -> torch.Tensor:
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
    raise ConfigError(f"merge must be one of {MERGES}, got {merge!r}")


def backward_direction_inputs(forward: dict[str, OptionalTensor],
                              backward: dict[str, OptionalTensor]) -> dict[str, OptionalTensor]:
    """The backward direction's inputs: each one left None reuses the forward direction's tensor."""
    return {name: forward[name] if backward[name] is None else backward[name] for name in forward}


def both_direction_inputs(u: torch.Tensor, delta: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                          D: OptionalTensor, delta_bias: OptionalTensor, u_b: OptionalTensor,
                          delta_b: OptionalTensor, B_b: OptionalTensor, C_b: OptionalTensor, D_b: OptionalTensor,
                          delta_bias_b: OptionalTensor) -> tuple[dict[str, OptionalTensor], dict[str, OptionalTensor]]:
    """(forward, backward) input dicts (u, delta, B, C, D, delta_bias); backward's None entries reuse forward's."""
    forward = dict(u=u, delta=delta, B=B, C=C, D=D, delta_bias=delta_bias)
    return forward, backward_direction_inputs(forward, dict(u=u_b, delta=delta_b, B=B_b, C=C_b, D=D_b,
                                                            delta_bias=delta_bias_b))


def bidirectional_by_two_scans(scan: ScanFunction, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor,
                               B: torch.Tensor, C: torch.Tensor, D: OptionalTensor = None, z: OptionalTensor = None,
                               delta_bias: OptionalTensor = None, *, A_b: torch.Tensor, u_b: OptionalTensor = None,
                               delta_b: OptionalTensor = None, B_b: OptionalTensor = None, C_b: OptionalTensor = None,
                               D_b: OptionalTensor = None, delta_bias_b: OptionalTensor = None,
                               delta_softplus: bool = True, merge: str = "sum") -> torch.Tensor:
    """merge(scan(forward inputs, z), scan(backward inputs, z, reverse=True)); all inputs in original time order."""
    forward, backward = both_direction_inputs(u, delta, B, C, D, delta_bias, u_b, delta_b, B_b, C_b, D_b,
                                              delta_bias_b)
    y_forward = scan(A=A, z=z, delta_softplus=delta_softplus, **forward)
    y_backward = scan(A=A_b, z=z, delta_softplus=delta_softplus, reverse=True, **backward)
    return merge_directions(y_forward, y_backward, merge)


def bidirectional_scan_ref(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                           D: OptionalTensor = None, z: OptionalTensor = None, delta_bias: OptionalTensor = None, *,
                           A_b: torch.Tensor, u_b: OptionalTensor = None, delta_b: OptionalTensor = None,
                           B_b: OptionalTensor = None, C_b: OptionalTensor = None, D_b: OptionalTensor = None,
                           delta_bias_b: OptionalTensor = None, delta_softplus: bool = True,
                           merge: str = "sum") -> torch.Tensor:
    """Reference bidirectional scan: two `selective_scan_ref` calls merged (see `bidirectional_by_two_scans`)."""
    return bidirectional_by_two_scans(selective_scan_ref, u, delta, A, B, C, D, z, delta_bias, A_b=A_b, u_b=u_b,
                                      delta_b=delta_b, B_b=B_b, C_b=C_b, D_b=D_b, delta_bias_b=delta_bias_b,
                                      delta_softplus=delta_softplus, merge=merge)
