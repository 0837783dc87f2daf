"""Numba kernels of the compiled CPU selective scan (the "numba" backend; the torch wrapper is `scan_numba.py`).

One kernel call runs one or two scan directions over every (batch, channel) row, in parallel over rows (`prange`),
with the N states of a row in a small local vector (the loops over states are what LLVM vectorises). Fused in:
the D skip of each direction, the merge of the two directions (sum, times `scale`) and the silu(z) gate.
Layouts (all C-contiguous, one float dtype): u, Δ', z, out (Bt, D, L); A (D, N); B, C time-major (Bt, L, N), so
that the N values of one step are adjacent; D (D,). Direction 0 runs forward (or reversed when `rev0`), direction
1, when `ndir == 2`, always reversed, by index arithmetic (t = L-1-s): no flipped copies.

State across calls: with `has_h0` a direction starts from h0[k, b, d] (ndir, Bt, D, N) instead of zeros, and with
`want_last` the forward writes the state after its last step to hlast (same layout); the backward then starts the
adjoint from dlast (`has_dlast`) and writes dL/dh0 = a_0 g_0 to dh0 (`has_h0`). Each costs one N-vector per row
and direction, outside the step loops; without them the kernels do what they did before.

Memory stays O(L) per row: the forward keeps, when asked (`save`), only the state entering each chunk of `chunk`
steps (ckpt: (ndir, Bt, D, chunks, N)); the backward walks the chunks from the end, recomputes a chunk's states
from its checkpoint into a (chunk + 1, N) row buffer and runs the adjoint recurrence g_s = C_s dy_s + a_{s+1} g_{s+1}.
Gradients that sum over rows are written per (batch, channel block) or per batch row and summed by the caller:
dB, dC as (Bt, blocks, L, N), dA as (Bt, D, N), dD as (Bt, D); the rest are per row. The backward accumulates
(+=) into zeroed outputs, so one output may serve both directions when they share an input (Fo-Bi).

exp: the decays are exp2(Δ · A log2 e), A log2 e made once per row. fp32 uses `fast_exp2`, branch-free (round,
6th-order Taylor polynomial of 2^f on |f| <= 1/2, exponent bits) so that LLVM vectorises it (libm's expf is a
scalar call; the kernel ran ~3x slower with it). The fraction is taken from the biased exponent y + 127, so it carries
z's absolute precision (2^-16): relative error < 3e-6, far inside mamba_ssm's fp32 tolerance (6e-4); the exact
form (fraction of y itself, < 2e-7) ran the forward kernel 13 % slower. fp64 uses math.exp (the gradcheck path).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

_JIT: dict[str, Any] = dict(cache=True, fastmath=True, nogil=True)
_OVERLOAD_OPTIONS: Any = _JIT  # numba's stubs type jit_options as a TypedDict
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453


def fast_exp2(y):  # pragma: no cover - replaced inside jitted code by the overload below
    return 2.0**y


@njit(inline="always", **_JIT)
def _exp2_f32(y):
    z = min(max(y, np.float32(-126.0)), np.float32(126.0)) + np.float32(127.0)  # biased exponent, in [1, 253]
    kb = np.int32(z + np.float32(0.5))  # round(z): truncation of a positive value (floor: 2x slower)
    f = z - np.float32(kb)  # |f| <= 1/2, to z's absolute precision (2^-16): 2^f relative error < 3e-6
    p = np.float32(_LN2**6 / 720.0)
    p = p * f + np.float32(_LN2**5 / 120.0)
    p = p * f + np.float32(_LN2**4 / 24.0)
    p = p * f + np.float32(_LN2**3 / 6.0)
    p = p * f + np.float32(_LN2**2 / 2.0)
    p = p * f + np.float32(_LN2)
    p = p * f + np.float32(1.0)
    scale = np.int32(kb << 23).view(np.float32)  # 2^(kb - 127) from its exponent bits
    return p * scale


@overload(fast_exp2, inline="always", jit_options=_OVERLOAD_OPTIONS)
def _fast_exp2_overload(y):
    if isinstance(y, types.Float) and y.bitwidth == 32:
        return lambda y: _exp2_f32(y)
    return lambda y: math.exp(y * _LN2)


@njit(inline="always", **_JIT)
def fast_exp(x):
    return fast_exp2(x * _log2e(x))


def _log2e(x):  # pragma: no cover - replaced inside jitted code by the overload below
    return _LOG2E


@overload(_log2e, inline="always", jit_options=_OVERLOAD_OPTIONS)
def _log2e_overload(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: np.float32(_LOG2E)
    return lambda x: _LOG2E


@njit(inline="always", **_JIT)
def _row_log2(A, d, out):
    """out = A[d] * log2(e): the decay exp(Δ A) is then the cheaper exp2(Δ · out)."""
    for n in range(out.shape[0]):
        out[n] = A[d, n] * _log2e(A[d, n])


def softplus(x):  # pragma: no cover - replaced inside jitted code by the overload below
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(inline="always", **_JIT)
def _softplus_f32(x):
    """max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1]: log(1 + e) = 2 atanh(s), s = e / (2 + e) <= 1/3, by its
    odd series to s^13 (relative error < 1e-7); vectorisable, unlike libm's log1p."""
    e = _exp2_f32(-abs(x) * np.float32(_LOG2E))
    s = e / (np.float32(2.0) + e)
    s2 = s * s
    p = np.float32(1.0 / 13.0)
    p = p * s2 + np.float32(1.0 / 11.0)
    p = p * s2 + np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 + np.float32(1.0)
    return max(x, np.float32(0.0)) + np.float32(2.0) * s * p


@overload(softplus, inline="always", jit_options=_OVERLOAD_OPTIONS)
def _softplus_overload(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _softplus_f32(x)
    return lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(inline="always", **_JIT)
def _delta_row(delta, bias, d, apply_softplus, out):
    """out = softplus(delta + bias[d]) (or without softplus) for one row: the Δ' of every step."""
    if apply_softplus:
        for t in range(out.shape[0]):
            out[t] = softplus(delta[t] + bias[d])
    else:
        for t in range(out.shape[0]):
            out[t] = delta[t] + bias[d]


@njit(inline="always", **_JIT)
def _sigmoid(x, one):
    return one / (one + fast_exp(-x))


@njit(inline="always", **_JIT)
def _sizes(u, A, chunk, one):
    """batch, channels, length, states, checkpoint chunks, and a zero of the compute dtype."""
    nb, nd, length = u.shape
    return nb, nd, length, A.shape[1], (length + chunk - 1) // chunk, one - one


@njit(inline="always", **_JIT)
def _two_rows(size, like):
    """Two separate scratch vectors (separate allocations: no aliasing for the vectoriser to fear)."""
    return np.empty(size, dtype=like.dtype), np.empty(size, dtype=like.dtype)


@njit(parallel=True, **_JIT)
def scan_forward(u0, dt0, A0, B0, C0, D0, u1, dt1, A1, B1, C1, D1, z, out, ypre, ckpt,
                 ndir, rev0, has_z, save, scale, chunk, one, bias0, bias1, apply_softplus, h0, hlast, has_h0,
                 want_last):
    """out = gate(scale * Σ_k (scan_k + D_k u_k)); with `save`, also ypre (before the gate) and the checkpoints.
    dt_k is Δ before its bias: the kernel applies bias_k and, if apply_softplus, softplus per row. States from h0
    (with has_h0, else zeros); the last ones to hlast (with want_last)."""
    nb, nd, length, ns, chunks, zero = _sizes(u0, A0, chunk, one)
    for row in prange(nb * nd):
        b, d = row // nd, row % nd
        h, a2 = _two_rows(ns, u0)  # state; A log2(e)
        y, dtr = _two_rows(length, u0)  # output row; Δ' row
        for k in range(ndir):
            u, dt, A, Bm, Cm, Dv = (u0, dt0, A0, B0, C0, D0) if k == 0 else (u1, dt1, A1, B1, C1, D1)
            first, step = (length - 1, -1) if (rev0 if k == 0 else True) else (0, 1)
            _row_log2(A, d, a2)
            _delta_row(dt[b, d], bias0 if k == 0 else bias1, d, apply_softplus, dtr)
            if has_h0:
                h[:] = h0[k, b, d]
            else:
                h[:] = zero
            for c in range(chunks):  # chunk loop: the checkpoint store stays out of the step loop
                if save:
                    ckpt[k, b, d, c, :] = h
                for s in range(c * chunk, min(length, (c + 1) * chunk)):
                    t = first + step * s
                    dtv, uv = dtr[t], u[b, d, t]
                    x = dtv * uv
                    acc = Dv[d] * uv
                    for n in range(ns):
                        hn = fast_exp2(dtv * a2[n]) * h[n] + x * Bm[b, t, n]
                        h[n] = hn
                        acc += hn * Cm[b, t, n]
                    y[t] = acc if k == 0 else y[t] + acc
            if want_last:
                hlast[k, b, d, :] = h
        _write_output(y, z[b, d] if has_z else y, out[b, d], ypre[b, d] if has_z and save else y, has_z, save,
                      scale, one)


@njit(inline="always", **_JIT)
def _write_output(y, z, out, ypre, has_z, save, scale, one):
    """out = scale * y, gated by silu(z) when has_z (then ypre = the value before the gate, when save)."""
    if not has_z:
        for t in range(y.shape[0]):
            out[t] = y[t] * scale
        return
    if save:
        for t in range(y.shape[0]):
            ypre[t] = y[t] * scale
    for t in range(y.shape[0]):
        out[t] = y[t] * scale * z[t] * _sigmoid(z[t], one)


@njit(parallel=True, **_JIT)
def scan_backward(u0, dt0, A0, B0, C0, D0, u1, dt1, A1, B1, C1, D1, z, ypre, ckpt, dout,
                  ndir, rev0, has_z, scale, chunk, blocks, one,
                  du0, ddt0, dA0, dB0, dC0, dD0, du1, ddt1, dA1, dB1, dC1, dD1, dz, dlast, dh0, has_dlast, has_h0):
    """Gradients of `scan_forward` (saved with `save`) for the output gradient dout and, with has_dlast, the last
    states' gradient dlast; with has_h0 also dL/dh0 into dh0. See the module notes."""
    nb, nd, length, ns, chunks, zero = _sizes(u0, A0, chunk, one)
    per_block = (nd + blocks - 1) // blocks
    for item in prange(nb * blocks):
        b, blk = item // blocks, item % blocks
        g, a_next = _two_rows(ns, u0)  # adjoint state; decay of the step after
        dA_row, a2 = _two_rows(ns, u0)
        hbuf = np.empty((chunk + 1, ns), dtype=u0.dtype)
        abuf = np.empty((chunk, ns), dtype=u0.dtype)
        dy = np.empty(length, dtype=u0.dtype)
        for d in range(blk * per_block, min(nd, (blk + 1) * per_block)):
            for t in range(length):  # gate and merge: dy = dL/d(scan_k + D_k u_k) for every k
                go = dout[b, d, t] * scale
                if has_z:
                    zv = z[b, d, t]
                    sg = _sigmoid(zv, one)
                    dz[b, d, t] = dout[b, d, t] * ypre[b, d, t] * sg * (one + zv * (one - sg))
                    go = go * zv * sg
                dy[t] = go
            for k in range(ndir):
                if k == 0:
                    u, dt, A, Bm, Cm, Dv = u0, dt0, A0, B0, C0, D0
                    du, ddt, dA, dB, dC, dD = du0, ddt0, dA0, dB0, dC0, dD0
                else:
                    u, dt, A, Bm, Cm, Dv = u1, dt1, A1, B1, C1, D1
                    du, ddt, dA, dB, dC, dD = du1, ddt1, dA1, dB1, dC1, dD1
                first, step = (length - 1, -1) if (rev0 if k == 0 else True) else (0, 1)
                _row_log2(A, d, a2)
                if has_dlast:  # after the last step the adjoint is dlast (a_next = 1 carries it in)
                    g[:] = dlast[k, b, d]
                    a_next[:] = one
                else:
                    g[:] = zero
                    a_next[:] = zero
                dA_row[:] = zero
                for c in range(chunks - 1, -1, -1):
                    s0 = c * chunk
                    steps = min(length, s0 + chunk) - s0
                    hbuf[0, :] = ckpt[k, b, d, c, :]
                    for j in range(steps):  # recompute the chunk's states from its checkpoint
                        t = first + step * (s0 + j)
                        dtv = dt[b, d, t]
                        x = dtv * u[b, d, t]
                        for n in range(ns):
                            a = fast_exp2(dtv * a2[n])
                            abuf[j, n] = a
                            hbuf[j + 1, n] = a * hbuf[j, n] + x * Bm[b, t, n]
                    for j in range(steps - 1, -1, -1):  # adjoint recurrence, backwards in scan order
                        t = first + step * (s0 + j)
                        dtv, uv, dyv = dt[b, d, t], u[b, d, t], dy[t]
                        x = dtv * uv
                        gB = zero
                        gdecay = zero
                        for n in range(ns):
                            gn = a_next[n] * g[n] + Cm[b, t, n] * dyv
                            g[n] = gn
                            a = abuf[j, n]
                            w = gn * a * hbuf[j, n]  # dL/d(Δ A) at this step
                            gdecay += w * A[d, n]
                            dA_row[n] += w * dtv
                            gB += gn * Bm[b, t, n]
                            dB[b, blk, t, n] += gn * x
                            dC[b, blk, t, n] += dyv * hbuf[j + 1, n]
                            a_next[n] = a
                        du[b, d, t] += gB * dtv + dyv * Dv[d]
                        ddt[b, d, t] += gdecay + gB * uv
                        dD[b, d] += dyv * uv
                for n in range(ns):
                    dA[b, d, n] += dA_row[n]
                if has_h0:  # the adjoint carried to before the first step: a_0 g_0
                    for n in range(ns):
                        dh0[k, b, d, n] = a_next[n] * g[n]
