"""Selective scan as a few large tensor ops per chunk (the "chunked" backend): what graph exporters can trace.

The "cpu" backend is fast in eager PyTorch but is a custom autograd Function with in-place steps, which
`torch.export` / ONNX cannot trace; the "ref" loop traces, but into one set of ops per time step (a graph that
grows with the sequence length and takes minutes to export). Here time is cut into chunks of T steps:
- inside a chunk, every state is a weighted sum of the chunk's inputs, h_t = sum_{s<=t} exp(S_t - S_s) b_s with
  S the running sum of delta*A (so every exponent is <= 0: no overflow), computed with one (T, T) matrix per
  (batch, channel, state);
- across chunks, the state entering each chunk is carried by a short loop: H_{c+1} = exp(S_last) H_c + h_last.
So the traced graph has L / T loop steps instead of L, at the price of T-fold more arithmetic inside chunks.
Same semantics and dtypes as `selective_scan_ref`; plain autograd gives the backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aum.ops.scan_ref import finish_output, prepare_inputs

DEFAULT_CHUNK = 8


def _flip_time(*tensors):
    return tuple(None if t is None else t.flip(-1) for t in tensors)


def _chunk_states(dA: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """dA, x: (B, D, C, T, N) -> (running log-decay S, states started from zero) both (B, D, C, T, N)."""
    steps = dA.shape[3]
    cum = dA.cumsum(dim=3)
    seg = cum[:, :, :, :, None, :] - cum[:, :, :, None, :, :]  # (B, D, C, T_t, T_s, N) = S_t - S_s
    causal = torch.ones(steps, steps, dtype=torch.bool, device=dA.device).tril()[:, :, None]  # (T_t, T_s, 1)
    decay = torch.exp(seg.masked_fill(~causal, float("-inf")))
    return cum, torch.einsum("bdctsn,bdcsn->bdctn", decay, x)


def selective_scan_chunked(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                           reverse=False, chunk: int = DEFAULT_CHUNK):
    """Mamba-1 selective scan; u, delta, z (B, D, L); A (D, N); B, C (B, N, L) -> (B, D, L) in u's dtype."""
    if reverse:  # = flip, scan, flip (the flips are cheap next to the scan and trace as one op each)
        u, delta, B, C, z = _flip_time(u, delta, B, C, z)
        return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk=chunk).flip(-1)
    dtype_in = u.dtype
    u, delta, A, B, C = prepare_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    batch, dim, length = u.shape
    steps = max(1, min(chunk, length))
    chunks = -(-length // steps)
    pad = chunks * steps - length  # padded steps have delta = 0: decay 1, input 0, outputs dropped
    delta_p, du_p = (F.pad(t, (0, pad)) for t in (delta, delta * u))
    B_p, C_p = (F.pad(t, (0, pad)).transpose(1, 2).reshape(batch, chunks, steps, -1) for t in (B, C))  # (B,C,T,N)
    dA = (delta_p[..., None] * A[None, :, None, :]).view(batch, dim, chunks, steps, -1)  # (B, D, C, T, N)
    x = du_p.view(batch, dim, chunks, steps)[..., None] * B_p[:, None]  # (B, D, C, T, N)
    cum, h_local = _chunk_states(dA, x)
    entry = [torch.zeros_like(h_local[:, :, 0, 0])]  # (B, D, N): state entering chunk 0
    for c in range(chunks - 1):
        entry.append(torch.exp(cum[:, :, c, -1]) * entry[-1] + h_local[:, :, c, -1])
    h = h_local + torch.exp(cum) * torch.stack(entry, dim=2)[:, :, :, None, :]  # (B, D, C, T, N)
    y = torch.einsum("bdctn,bctn->bdct", h, C_p).reshape(batch, dim, -1)[..., :length]  # (B, D, L)
    return finish_output(y, u, D, z, dtype_in)
