"""Compiled CPU selective scan (the "numba" backend): a torch.autograd.Function over `scan_numba_kernels`.

Same semantics as `selective_scan_ref` / `bidirectional_scan_ref`, computed in fp32 (fp64 for fp64 inputs).
Outside the kernels, in torch: the (Bt, N, L) -> (Bt, L, N) copies of B and C, and, when a gradient is needed,
Δ + bias and softplus (autograd differentiates them; one pass, shared by both directions of a Fo-Bi call). Without
a gradient the forward kernel applies bias and softplus per row itself. The kernels do everything N-fold, plus the
D skips, the merge and the silu(z) gate. Nothing (Bt, D, L, N) is allocated:
training keeps one state per chunk of `CHECKPOINT_CHUNK` steps. The single-direction call also takes an
`initial_state` and returns the last state on request (`selective_scan_ref`'s arguments), gradients included.

The kernels are compiled on first use (a few seconds per dtype) and cached on disk by numba (`cache=True`; set
NUMBA_CACHE_DIR where the package folder is read-only). Threads: numba's own pool (see `aum.ops.threads`).
"""

from __future__ import annotations

import importlib

import numpy as np
import torch
import torch.nn.functional as F

from aum.ops.scan_ref import both_direction_inputs

CHECKPOINT_CHUNK = 64
_SHARED_NAMES = ("u", "delta", "B", "C", "D")


def numba_status() -> tuple[bool, str]:
    """(available, reason if not): numba must import and the kernels must compile for this machine."""
    try:
        importlib.import_module("aum.ops.scan_numba_kernels")
    except Exception as error:  # noqa: BLE001 - any import failure makes the backend unavailable, with the reason
        return False, f"numba kernels cannot be imported ({type(error).__name__}: {error})"
    return True, ""


def _kernels():
    return importlib.import_module("aum.ops.scan_numba_kernels")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _blocks(channels: int) -> int:
    """Channel blocks of the backward: enough items to keep every thread busy; each block owns a dB/dC partial."""
    from numba import get_num_threads  # numba is optional: this backend loads it when it runs

    return max(1, min(channels, 2 * get_num_threads()))


class _NumbaScan(torch.autograd.Function):
    """Inputs per direction k: u_k, Δ'_k (Bt, D, L), A_k (D, N), B_k, C_k (Bt, L, N), D_k (D,); then z or None.
    `shared` names the direction-1 inputs that are the direction-0 tensors (their gradients are accumulated once).
    h0: initial states (ndir, Bt, D, N) or None (zeros); want_last: also return the last states (ndir, Bt, D, N)."""

    @staticmethod
    def forward(ctx, ndir, rev0, scale, shared, save, u0, dt0, A0, B0, C0, D0, u1, dt1, A1, B1, C1, D1, z,
                fused=None, h0=None, want_last=False):
        dtype = u0.dtype
        batch, channels, length = u0.shape
        state = A0.shape[1]
        arrays = [_np(t) for t in (u0, dt0, A0, B0, C0, D0, u1, dt1, A1, B1, C1, D1)]
        dummy3 = np.zeros((1, 1, 1), dtype=arrays[0].dtype)
        z_np = dummy3 if z is None else _np(z)
        out = torch.empty_like(u0)
        save_y = save and z is not None
        ypre = torch.empty_like(u0) if save_y else None
        chunks = (length + CHECKPOINT_CHUNK - 1) // CHECKPOINT_CHUNK
        ckpt = u0.new_empty(ndir, batch, channels, chunks, state) if save else None
        one = np.ones((), dtype=arrays[0].dtype)[()]
        if fused is None:  # Δ' given: no bias, no softplus in the kernel
            no_bias = np.zeros(channels, dtype=arrays[0].dtype)
            fused = (no_bias, no_bias, False)
        dummy4 = np.zeros((1,) * 4, dtype=arrays[0].dtype)
        last = u0.new_empty(ndir, batch, channels, state) if want_last else None
        _kernels().scan_forward(*arrays, z_np, out.numpy(), dummy3 if ypre is None else ypre.numpy(),
                                np.zeros((1,) * 5, arrays[0].dtype) if ckpt is None else ckpt.numpy(),
                                ndir, rev0, z is not None, save, one * scale, CHECKPOINT_CHUNK, one, *fused,
                                dummy4 if h0 is None else _np(h0), dummy4 if last is None else last.numpy(),
                                h0 is not None, want_last)
        if save:  # h0, when given, is the first checkpoint of each row
            ctx.save_for_backward(u0, dt0, A0, B0, C0, D0, u1, dt1, A1, B1, C1, D1, z, ypre, ckpt)
        ctx.config = (ndir, rev0, scale, shared, save, dtype)
        ctx.has_h0 = h0 is not None
        if last is None:
            return out
        ctx.set_materialize_grads(False)  # an unused last state brings no gradient: none is made up
        return out, last

    @staticmethod
    def backward(ctx, dout, dlast=None):
        ndir, rev0, scale, shared, save, dtype = ctx.config
        if not save:
            raise RuntimeError("numba selective scan: backward through a call made without gradients")
        tensors = ctx.saved_tensors
        dout = torch.zeros_like(tensors[0]) if dout is None else dout
        u0, A0, z, ypre, ckpt = tensors[0], tensors[2], tensors[12], tensors[13], tensors[14]
        batch, channels, length = u0.shape
        state = A0.shape[1]
        blocks = _blocks(channels)
        grads0 = _direction_grads(u0, batch, channels, length, state, blocks)
        grads1 = grads0 if ndir == 1 else _direction_grads(u0, batch, channels, length, state, blocks)
        for i, name in enumerate(_SHARED_NAMES):  # a shared input's gradient is accumulated into one buffer
            if ndir == 2 and name in shared:
                grads1[(0, 1, 3, 4, 5)[i]] = grads0[(0, 1, 3, 4, 5)[i]]
        dz = torch.zeros_like(u0) if z is not None else None
        dh0 = u0.new_empty(ndir, batch, channels, state) if ctx.has_h0 else None
        arrays = [_np(t) for t in tensors[:12]]
        dummy3 = np.zeros((1, 1, 1), dtype=arrays[0].dtype)
        dummy4 = np.zeros((1,) * 4, dtype=arrays[0].dtype)
        one = np.ones((), dtype=arrays[0].dtype)[()]
        _kernels().scan_backward(*arrays, dummy3 if z is None else _np(z), dummy3 if ypre is None else _np(ypre),
                                 _np(ckpt), _np(dout), ndir, rev0, z is not None, one * scale, CHECKPOINT_CHUNK,
                                 blocks, one, *[g.numpy() for g in grads0], *[g.numpy() for g in grads1],
                                 dummy3 if dz is None else dz.numpy(), dummy4 if dlast is None else _np(dlast),
                                 dummy4 if dh0 is None else dh0.numpy(), dlast is not None, dh0 is not None)
        out0 = _reduce(grads0)
        out1: list[torch.Tensor | None] = [None] * 6 if ndir == 1 else list(_reduce(grads1))
        if ndir == 2:
            for i, name in enumerate(_SHARED_NAMES):
                if name in shared:
                    out1[(0, 1, 3, 4, 5)[i]] = None
        return (None, None, None, None, None, *out0, *out1, dz, None, dh0, None)


def _direction_grads(like, batch, channels, length, state, blocks) -> list[torch.Tensor]:
    """Zeroed accumulators: du, dΔ' (Bt, D, L); dA (Bt, D, N); dB, dC (Bt, blocks, L, N); dD (Bt, D)."""
    return [like.new_zeros(batch, channels, length), like.new_zeros(batch, channels, length),
            like.new_zeros(batch, channels, state), like.new_zeros(batch, blocks, length, state),
            like.new_zeros(batch, blocks, length, state), like.new_zeros(batch, channels)]


def _reduce(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    du, ddt, dA, dB, dC, dD = grads
    return [du, ddt, dA.sum(0), dB.sum(1), dC.sum(1), dD.sum(0)]


def _compute_dtype(u: torch.Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def _delta_prime(delta, delta_bias, delta_softplus: bool, dtype) -> torch.Tensor:
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    return F.softplus(delta) if delta_softplus else delta


def _direction(u, delta, A, B, C, D, delta_bias, delta_softplus: bool, dtype, cache: dict,
               fuse: bool) -> list[torch.Tensor]:
    """u, Δ', A, B and C time-major, D (zeros when None) of one direction; `cache` reuses a shared input's copy.
    fuse: Δ is passed raw and its bias appended (the kernel adds it and applies softplus; no gradient then)."""
    def once(key, make):
        if key not in cache:
            cache[key] = make()
        return cache[key]

    if fuse:
        dt = once(id(delta), lambda: delta.to(dtype).contiguous())
    else:
        dt = once((id(delta), id(delta_bias)), lambda: _delta_prime(delta, delta_bias, delta_softplus, dtype))
    tm = [once(id(x), lambda x=x: x.to(dtype).transpose(1, 2).contiguous()) for x in (B, C)]
    zeros = once("zeros", lambda: u.new_zeros(u.shape[1], dtype=dtype))
    d_skip = zeros if D is None else once(id(D), lambda: D.to(dtype).contiguous())
    inputs = [once(("u", id(u)), lambda: u.to(dtype).contiguous()), dt, A.to(dtype).contiguous(), *tm, d_skip]
    if fuse:
        inputs.append(zeros if delta_bias is None else once(id(delta_bias), lambda: delta_bias.to(dtype).contiguous()))
    return inputs


def _fused(first: list, second: list, save: bool, delta_softplus: bool):
    """The kernel's (bias_0, bias_1, softplus) when Δ' is made in the kernel (no gradient), else None."""
    return None if save else (_np(first.pop()), _np(second.pop()), delta_softplus)


def _save_states(tensors) -> bool:
    # needs_input_grad stays True under no_grad for inputs that require grad (parameters): decide here
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def selective_scan_numba(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False,
                         initial_state=None, return_last_state=False):
    """Compiled twin of `selective_scan_ref` (same arguments, same result within fp32 rounding), O(L) memory."""
    dtype = _compute_dtype(u)
    save = _save_states([u, delta, A, B, C, D, z, delta_bias, initial_state])
    first = _direction(u, delta, A, B, C, D, delta_bias, delta_softplus, dtype, {}, fuse=not save)
    fused = _fused(first, list(first), save, delta_softplus)
    zc = None if z is None else z.to(dtype).contiguous()
    h0 = None if initial_state is None else initial_state.to(dtype).contiguous()[None]  # (1, Bt, D, N)
    out = _NumbaScan.apply(1, bool(reverse), 1.0, (), save, *first, *first, zc, fused, h0, bool(return_last_state))
    if not return_last_state:
        return out.to(u.dtype)
    return out[0].to(u.dtype), out[1][0]


def bidirectional_scan_numba(u, delta, A, B, C, D=None, z=None, delta_bias=None, *, A_b, u_b=None, delta_b=None,
                             B_b=None, C_b=None, D_b=None, delta_bias_b=None, delta_softplus=True, merge="sum"):
    """Compiled twin of `bidirectional_scan_ref`: both directions, merge and gate in one kernel call."""
    dtype = _compute_dtype(u)
    forward, backward = both_direction_inputs(u, delta, B, C, D, delta_bias, u_b, delta_b, B_b, C_b, D_b,
                                              delta_bias_b)
    save = _save_states([u, delta, A, B, C, D, z, delta_bias, A_b, u_b, delta_b, B_b, C_b, D_b, delta_bias_b])
    cache: dict = {}
    first = _direction(u, delta, A, B, C, D, delta_bias, delta_softplus, dtype, cache, fuse=not save)
    second = _direction(backward["u"], backward["delta"], A_b, backward["B"], backward["C"], backward["D"],
                        backward["delta_bias"], delta_softplus, dtype, cache, fuse=not save)
    fused = _fused(first, second, save, delta_softplus)
    shared = tuple(name for name, i in zip(_SHARED_NAMES, (0, 1, 3, 4, 5)) if first[i] is second[i])
    zc = None if z is None else z.to(dtype).contiguous()
    scale = {"sum": 1.0, "mean": 0.5}[merge]
    y = _NumbaScan.apply(2, False, scale, shared, save, *first, *second, zc, fused)
    return y.to(u.dtype)
