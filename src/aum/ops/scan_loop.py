"""Selective scan as a lean per-step loop (the "loop" backend): the traceable scan with the fewest ops per step.

Like the "ref" loop, but every whole-sequence quantity is computed once outside the loop: decays
a = exp(delta * A) and inputs b = delta * u * B for all steps (B, L, D, N), time-major so that a step is a
contiguous slice; the loop body is one `addcmul` per step, and the output <h_t, C_t> is one batched product after
it. An exporter unrolls the loop at the fixed export length (about three graph nodes per step and direction),
and the exported graph runs close to the eager CPU kernel; exporting takes longer as the length grows.
Same semantics, dtypes and state arguments (`initial_state`, `return_last_state`) as `selective_scan_ref`; plain
autograd gives the backward.
"""

from __future__ import annotations

import torch

from aum.ops.scan_ref import finish_output, prepare_inputs, start_state


def selective_scan_loop(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False,
                        initial_state=None, return_last_state=False):
    """Mamba-1 selective scan; u, delta, z (B, D, L); A (D, N); B, C (B, N, L) -> (B, D, L) in u's dtype
    (and the last state (B, D, N) with `return_last_state`; `initial_state` as in `selective_scan_ref`)."""
    dtype_in = u.dtype
    u, delta, A, B, C = prepare_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    d_t = delta.permute(2, 0, 1)  # (L, B, D)
    a = torch.exp(d_t[..., None] * A)  # (L, B, D, N)
    b = (d_t * u.permute(2, 0, 1))[..., None] * B.permute(2, 0, 1)[:, :, None, :]  # (L, B, D, N)
    steps = range(u.shape[-1] - 1, -1, -1) if reverse else range(u.shape[-1])
    states: list[torch.Tensor] = []
    h = start_state(initial_state, u, A)  # (B, D, N); a multiplies it at the first step too: A gets its gradient
    for t in steps:
        h = torch.addcmul(b[t], a[t], h)
        states.append(h)
    if reverse:
        states.reverse()  # back to time order
    y = torch.matmul(torch.stack(states), C.permute(2, 0, 1)[..., None]).squeeze(-1)  # (L, B, D)
    y = finish_output(y.permute(1, 2, 0), u, D, z, dtype_in)
    return (y, h) if return_last_state else y
