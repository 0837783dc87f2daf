"""Selective scan as a log-depth parallel prefix scan (the "parallel" backend): what graph exporters can trace.

The "cpu" backend is fast in eager PyTorch but is a custom autograd Function with in-place steps, which
`torch.export` / ONNX cannot trace; the "ref" loop traces, but into one set of ops per time step (a graph that
grows with the sequence length and takes minutes to export). Here the recurrence h_t = a_t h_{t-1} + b_t, with
a = exp(delta * A) and b = delta * u * B, is solved by a Hillis-Steele prefix scan over the associative pairs
(a, b): after the round with offset k (1, 2, 4, ...) position t holds the composition of steps t-2k+1 .. t,
    b_t <- b_t + a_t * b_{t-k},   a_t <- a_t * a_{t-k}.
ceil(log2 L) rounds of whole-sequence elementwise ops, so the traced graph is small and its size grows with
log L; the work is L log L instead of L. Only products of decays <= 1 and sums appear: nothing overflows.
An initial state h0 is folded into the first input, b_0 <- b_0 + a_0 h0 (then h_{-1} = 0 again); the last state is
h at the last position. Same semantics, dtypes and state arguments as `selective_scan_ref`; plain autograd gives
the backward.
"""

from __future__ import annotations

import torch

from aum.ops.scan_ref import finish_output, prepare_inputs


def _flip_time(*tensors):
    return tuple(None if t is None else t.flip(-1) for t in tensors)


def _prefix_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """States h (B, D, L, N) of h_t = a_t h_{t-1} + b_t, h_{-1} = 0, for a, b (B, D, L, N)."""
    length, offset = a.shape[2], 1
    if length == 1:  # h_0 = a_0 * 0 + b_0: keep a in the graph so that A gets its (zero) gradient, as in the ref
        return torch.addcmul(b, a, torch.zeros_like(b))
    while offset < length:
        b = torch.cat([b[:, :, :offset], torch.addcmul(b[:, :, offset:], a[:, :, offset:], b[:, :, :-offset])], 2)
        if offset * 2 < length:  # the decays of the last round are not needed
            a = torch.cat([a[:, :, :offset], a[:, :, offset:] * a[:, :, :-offset]], dim=2)
        offset *= 2
    return b


def selective_scan_parallel(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                            reverse=False, initial_state=None, return_last_state=False):
    """Mamba-1 selective scan; u, delta, z (B, D, L); A (D, N); B, C (B, N, L) -> (B, D, L) in u's dtype
    (and the last state (B, D, N) with `return_last_state`; `initial_state` as in `selective_scan_ref`)."""
    if reverse:  # = flip, scan, flip (the flips trace as one op each); the states are those of the flipped scan
        u, delta, B, C, z = _flip_time(u, delta, B, C, z)
        out = selective_scan_parallel(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                      initial_state=initial_state, return_last_state=return_last_state)
        return (out[0].flip(-1), out[1]) if return_last_state else out.flip(-1)
    dtype_in = u.dtype
    u, delta, A, B, C = prepare_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    a = torch.exp(delta[..., None] * A[None, :, None, :])  # (B, D, L, N)
    b = (delta * u)[..., None] * B.transpose(1, 2)[:, None]  # (B, D, L, N)
    if initial_state is not None:  # b_0 + a_0 h0
        h0 = initial_state.to(b.dtype)[:, :, None]  # (B, D, 1, N)
        b = torch.cat([torch.addcmul(b[:, :, :1], a[:, :, :1], h0), b[:, :, 1:]], dim=2)
    h = _prefix_scan(a, b)
    y = (h * C.transpose(1, 2)[:, None]).sum(dim=-1)  # (B, D, L): <h_t, C_t>
    y = finish_output(y, u, D, z, dtype_in)
    return (y, h[:, :, -1]) if return_last_state else y
