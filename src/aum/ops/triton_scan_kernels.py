"""Triton kernels of the selective scan (see `aum.ops.triton_scan` for the design note and the public API).

Layout contract (the caller makes tensors contiguous): u, delta, z, out (B, D, L); B, C (B, N, L); A (D, N) fp32;
D skip, delta bias (D,) fp32 (zeros when absent); initial / last state and their gradients (B, D, N) fp32 (only
read or written under HAS_INIT / STORE_LAST / HAS_DLAST: without them the compiled code is the zero-state scan).
One program per (batch, block of BLOCK_D channels). A program
walks the sequence in chunks of CHUNK steps; inside a chunk the recurrence h_s = a_s h_{s-1} + b_s is an
associative scan of (a, b) pairs along the time axis of a (BLOCK_D, CHUNK, BLOCK_N) tile kept in registers, and
the chunk's last state is carried to the next chunk. Everything is written in "scan time" s: the memory index is
t = s for the forward direction and t = L-1-s for the reverse one (index arithmetic, no flipped copies).
"""

from __future__ import annotations

import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _affine_combine(a_left, b_left, a_right, b_right):
    # compose h -> a_left h + b_left (earlier) with h -> a_right h + b_right (later)
    return a_left * a_right, a_right * b_left + b_right


@triton.jit
def _softplus(x):
    return tl.where(x > 20.0, x, tl.log(1.0 + tl.exp(x)))


@triton.jit
def _pick(tile, select):
    # tile (BD, T, BN), select (T,) with one True -> (BD, BN)
    return tl.sum(tl.where(select[None, :, None], tile, 0.0), axis=1)


@triton.jit
def _time_index(s, L, REVERSE: tl.constexpr):
    if REVERSE:
        return L - 1 - s
    else:
        return s


@triton.jit
def _load_delta(dt_ptr, offs_ud, mask_ud, bias, SOFTPLUS: tl.constexpr):
    """(delta + bias) before softplus, and the effective step: 0 on padding so the step is the identity."""
    dt_in = tl.load(dt_ptr + offs_ud, mask=mask_ud, other=0.0).to(tl.float32) + bias[:, None]
    if SOFTPLUS:
        dt = _softplus(dt_in)
    else:
        dt = dt_in
    return dt_in, tl.where(mask_ud, dt, 0.0)


@triton.jit
def _load_chunk(u_ptr, dt_ptr, B_ptr, C_ptr, s, mask_s, L, row, bc_row, mask_d, mask_n, bias,
                REVERSE: tl.constexpr, SOFTPLUS: tl.constexpr):
    """One chunk's time indices, offsets/masks and inputs: u, Δ (raw + bias, and softplus'd) (BD, T); B, C (T, BN)."""
    t = _time_index(s, L, REVERSE)
    offs_ud = row[:, None] + t[None, :]  # (BD, T)
    mask_ud = mask_d[:, None] & mask_s[None, :]
    offs_bc = bc_row[None, :] + t[:, None]  # (T, BN)
    mask_bc = mask_s[:, None] & mask_n[None, :]
    u = tl.load(u_ptr + offs_ud, mask=mask_ud, other=0.0).to(tl.float32)
    dt_in, dt = _load_delta(dt_ptr, offs_ud, mask_ud, bias, SOFTPLUS)
    Bt = tl.load(B_ptr + offs_bc, mask=mask_bc, other=0.0).to(tl.float32)
    Ct = tl.load(C_ptr + offs_bc, mask=mask_bc, other=0.0).to(tl.float32)
    return t, offs_ud, mask_ud, offs_bc, mask_bc, u, dt_in, dt, Bt, Ct


@triton.jit
def _chunk_states(dt, u, A2, Bt, h_in):
    """States of one chunk. dt, u (BD, T); A2 = A*log2(e) (BD, BN); Bt (T, BN); h_in (BD, BN) the state before."""
    a = tl.exp2(dt[:, :, None] * A2[:, None, :])  # (BD, T, BN) = exp(dt * A)
    b = (dt * u)[:, :, None] * Bt[None, :, :]  # (BD, T, BN)
    a_cum, b_cum = tl.associative_scan((a, b), axis=1, combine_fn=_affine_combine)
    h = b_cum + a_cum * h_in[:, None, :]  # (BD, T, BN)
    return b, h


@triton.jit
def _state_offsets(pid_b, offs_d, offs_n, n_dim, N: tl.constexpr):
    return (pid_b.to(tl.int64) * n_dim + offs_d[:, None]) * N + offs_n[None, :]  # (BD, BN) into (B, D, N)


@triton.jit
def _fwd_pass(u_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, z_ptr, out_ptr, ck_ptr, h0_ptr, hlast_ptr,
              pid_b, offs_d, mask_d, n_dim, L, n_chunks, scale,
              N: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr, HAS_Z: tl.constexpr,
              SOFTPLUS: tl.constexpr, REVERSE: tl.constexpr, MERGE_PREV: tl.constexpr, FINAL: tl.constexpr,
              STORE_STATES: tl.constexpr, HAS_INIT: tl.constexpr, STORE_LAST: tl.constexpr):
    """One direction over the whole sequence. Not FINAL: store raw y in out (for the other direction to merge).
    MERGE_PREV: add what out holds. FINAL: scale, gate with silu(z), store.
    HAS_INIT: start from the state in h0 (else zeros); STORE_LAST: store the state after the last scan step."""
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    mask_dn = mask_d[:, None] & mask_n[None, :]
    offs_s = tl.arange(0, CHUNK)
    A2 = tl.load(A_ptr + offs_d[:, None] * N + offs_n[None, :], mask=mask_dn, other=0.0) * LOG2E  # (BD, BN)
    Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0)  # (BD,)
    bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0)  # (BD,)
    row = (pid_b.to(tl.int64) * n_dim + offs_d) * L  # (BD,) start of each channel in (B, D, L)
    bc_row = (pid_b.to(tl.int64) * N + offs_n) * L  # (BN,) start of each state row in (B, N, L)
    ck_off = ((pid_b.to(tl.int64) * n_dim + offs_d[:, None]) * n_chunks) * N + offs_n[None, :]  # (BD, BN)
    if HAS_INIT:
        h = tl.load(h0_ptr + _state_offsets(pid_b, offs_d, offs_n, n_dim, N), mask=mask_dn, other=0.0)
    else:
        h = tl.zeros_like(A2)  # (BD, BN) state before the chunk
    for c in range(0, n_chunks):
        if STORE_STATES:
            tl.store(ck_ptr + ck_off + c * N, h, mask=mask_dn)  # state entering chunk c (for the backward)
        s = c * CHUNK + offs_s
        mask_s = s < L
        t, offs_ud, mask_ud, offs_bc, mask_bc, u, dt_in, dt, Bt, Ct = _load_chunk(
            u_ptr, dt_ptr, B_ptr, C_ptr, s, mask_s, L, row, bc_row, mask_d, mask_n, bias, REVERSE, SOFTPLUS)
        _, hs = _chunk_states(dt, u, A2, Bt, h)
        y = tl.sum(hs * Ct[None, :, :], axis=2) + Dv[:, None] * u  # (BD, T)
        if MERGE_PREV:
            y += tl.load(out_ptr + offs_ud, mask=mask_ud, other=0.0).to(tl.float32)
        if FINAL:
            y = y * scale
            if HAS_Z:
                zz = tl.load(z_ptr + offs_ud, mask=mask_ud, other=0.0).to(tl.float32)
                y = y * zz * tl.sigmoid(zz)
        tl.store(out_ptr + offs_ud, y.to(out_ptr.dtype.element_ty), mask=mask_ud)
        h = _pick(hs, offs_s == CHUNK - 1)  # padded steps are identities: this is the state at the last valid step
    if STORE_LAST:
        tl.store(hlast_ptr + _state_offsets(pid_b, offs_d, offs_n, n_dim, N), h, mask=mask_dn)


@triton.jit
def scan_fwd_kernel(u0, dt0, A0, B0, C0, D0, bias0, ck0,  # direction 0: forward time (or the only direction)
                    u1, dt1, A1, B1, C1, D1, bias1, ck1,  # direction 1: reverse time (bidirectional only)
                    z_ptr, out_ptr, h0_ptr, hlast_ptr, n_dim, L, n_chunks, scale,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, CHUNK: tl.constexpr,
                    HAS_Z: tl.constexpr, SOFTPLUS: tl.constexpr, REVERSE: tl.constexpr, BIDIR: tl.constexpr,
                    STORE_STATES: tl.constexpr, HAS_INIT: tl.constexpr, STORE_LAST: tl.constexpr):
    """HAS_INIT / STORE_LAST (one direction only): initial state in h0, final state out to hlast."""
    pid_b = tl.program_id(0)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < n_dim
    if BIDIR:
        # both directions in one program: the reverse one stores its raw y, the forward one adds it and gates
        _fwd_pass(u1, dt1, A1, B1, C1, D1, bias1, z_ptr, out_ptr, ck1, h0_ptr, hlast_ptr, pid_b, offs_d, mask_d,
                  n_dim, L, n_chunks, scale, N, BLOCK_N, CHUNK, HAS_Z, SOFTPLUS, True, False, False, STORE_STATES,
                  False, False)
        tl.debug_barrier()
        _fwd_pass(u0, dt0, A0, B0, C0, D0, bias0, z_ptr, out_ptr, ck0, h0_ptr, hlast_ptr, pid_b, offs_d, mask_d,
                  n_dim, L, n_chunks, scale, N, BLOCK_N, CHUNK, HAS_Z, SOFTPLUS, False, True, True, STORE_STATES,
                  False, False)
    else:
        _fwd_pass(u0, dt0, A0, B0, C0, D0, bias0, z_ptr, out_ptr, ck0, h0_ptr, hlast_ptr, pid_b, offs_d, mask_d,
                  n_dim, L, n_chunks, scale, N, BLOCK_N, CHUNK, HAS_Z, SOFTPLUS, REVERSE, False, True, STORE_STATES,
                  HAS_INIT, STORE_LAST)


@triton.jit
def _bwd_pass(u_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, ck_ptr, z_ptr, dout_ptr,
              du_ptr, ddt_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dz_ptr, dlast_ptr, dh0_ptr,
              pid_b, pid_part, offs_d, mask_d, n_batch, n_dim, L, n_chunks, scale,
              N: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr, HAS_Z: tl.constexpr,
              SOFTPLUS: tl.constexpr, REVERSE: tl.constexpr, ACC_U: tl.constexpr, ACC_DT: tl.constexpr,
              acc_b, acc_c, Z_PREV: tl.constexpr, Z_FINAL: tl.constexpr, ATOMIC: tl.constexpr,
              HAS_INIT: tl.constexpr, HAS_DLAST: tl.constexpr):
    """Gradients of one direction, chunks in reverse scan order: recompute the chunk's states from its checkpoint,
    then the adjoint g_s = dL/dh_s = dy_s C_s + a_{s+1} g_{s+1} as a reverse associative scan.
    ACC_U/ACC_DT, acc_b/acc_c (runtime flags): add into what is there (the other direction's gradient of a shared
    tensor, or an earlier channel tile's dB/dC partial). ATOMIC: dB/dC go to one (B, N, L) buffer by atomic adds
    instead (not deterministic).
    dz: without Z_FINAL store this direction's y in dz (fp32) for the other pass; Z_PREV adds it; Z_FINAL computes
    dz from the merged y.
    HAS_DLAST: the adjoint starts from dlast (the last state's gradient) instead of zeros; past the end a_{s+1} is 1
    (a padded step), so it reaches the last step unchanged. HAS_INIT: store dh0 = a_0 g_0, the adjoint of the
    initial state (the states themselves already start from it: the first checkpoint is the initial state)."""
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    mask_dn = mask_d[:, None] & mask_n[None, :]
    offs_s = tl.arange(0, CHUNK)
    A = tl.load(A_ptr + offs_d[:, None] * N + offs_n[None, :], mask=mask_dn, other=0.0)  # (BD, BN)
    A2 = A * LOG2E
    Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0)
    bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0)
    row = (pid_b.to(tl.int64) * n_dim + offs_d) * L  # (BD,)
    bc_row = (pid_b.to(tl.int64) * N + offs_n) * L  # (BN,)
    part_row = ((pid_part.to(tl.int64) * n_batch + pid_b) * N + offs_n) * L  # (BN,) this group's dB/dC partials
    ck_off = ((pid_b.to(tl.int64) * n_dim + offs_d[:, None]) * n_chunks) * N + offs_n[None, :]  # (BD, BN)
    state_off = _state_offsets(pid_b, offs_d, offs_n, n_dim, N)
    if HAS_DLAST:
        g_next = tl.load(dlast_ptr + state_off, mask=mask_dn, other=0.0)  # adjoint at the first step of the next chunk
    else:
        g_next = tl.zeros_like(A)  # adjoint at the first step of the following chunk
    dA_acc = tl.zeros_like(A)
    dD_acc = tl.zeros_like(Dv)
    dbias_acc = tl.zeros_like(Dv)
    for i in range(0, n_chunks):
        c = n_chunks - 1 - i
        s = c * CHUNK + offs_s
        mask_s = s < L
        t, offs_ud, mask_ud, offs_bc, mask_bc, u, dt_in, dt, Bt, Ct = _load_chunk(
            u_ptr, dt_ptr, B_ptr, C_ptr, s, mask_s, L, row, bc_row, mask_d, mask_n, bias, REVERSE, SOFTPLUS)
        h_in = tl.load(ck_ptr + ck_off + c * N, mask=mask_dn, other=0.0)
        b, hs = _chunk_states(dt, u, A2, Bt, h_in)  # (BD, T, BN)
        dout = tl.load(dout_ptr + offs_ud, mask=mask_ud, other=0.0).to(tl.float32) * scale
        if HAS_Z:
            zz = tl.load(z_ptr + offs_ud, mask=mask_ud, other=0.0).to(tl.float32)
            sig = tl.sigmoid(zz)
            dy = dout * zz * sig
            y = tl.sum(hs * Ct[None, :, :], axis=2) + Dv[:, None] * u
            if Z_PREV:
                y += tl.load(dz_ptr + offs_ud, mask=mask_ud, other=0.0)
            if Z_FINAL:
                y = dout * y * sig * (1.0 + zz * (1.0 - sig))
            tl.store(dz_ptr + offs_ud, y, mask=mask_ud)
        else:
            dy = dout
        # decay of the following step, a_{s+1} (1 past the end: its adjoint is 0 anyway)
        t1 = _time_index(s + 1, L, REVERSE)
        mask_ud1 = mask_d[:, None] & (s + 1 < L)[None, :]
        _, dt1 = _load_delta(dt_ptr, row[:, None] + t1[None, :], mask_ud1, bias, SOFTPLUS)
        a_next = tl.exp2(dt1[:, :, None] * A2[:, None, :])  # (BD, T, BN)
        p_cum, r_cum = tl.associative_scan((a_next, dy[:, :, None] * Ct[None, :, :]), axis=1,
                                           combine_fn=_affine_combine, reverse=True)
        g = r_cum + p_cum * g_next[:, None, :]  # (BD, T, BN) adjoint of h_s
        g_next = _pick(g, offs_s == 0)
        decayed = hs - b  # a_s h_{s-1}
        du = tl.sum(g * Bt[None, :, :], axis=2) * dt + Dv[:, None] * dy  # (BD, T)
        ddt = tl.sum(g * (Bt[None, :, :] * u[:, :, None] + A[:, None, :] * decayed), axis=2)  # (BD, T)
        if SOFTPLUS:
            ddt = ddt * tl.sigmoid(dt_in)
        ddt = tl.where(mask_ud, ddt, 0.0)
        dA_acc += tl.sum(g * dt[:, :, None] * decayed, axis=1)
        dD_acc += tl.sum(dy * u, axis=1)
        dbias_acc += tl.sum(ddt, axis=1)
        dB = tl.sum(g * (dt * u)[:, :, None], axis=0)  # (T, BN) partial over this channel block
        dC = tl.sum(hs * dy[:, :, None], axis=0)  # (T, BN)
        if ACC_U:
            du += tl.load(du_ptr + offs_ud, mask=mask_ud, other=0.0)
        if ACC_DT:
            ddt += tl.load(ddt_ptr + offs_ud, mask=mask_ud, other=0.0)
        tl.store(du_ptr + offs_ud, du, mask=mask_ud)
        tl.store(ddt_ptr + offs_ud, ddt, mask=mask_ud)
        offs_part = part_row[None, :] + t[:, None]  # (T, BN)
        if ATOMIC:
            tl.atomic_add(dB_ptr + offs_part, dB, mask=mask_bc)
            tl.atomic_add(dC_ptr + offs_part, dC, mask=mask_bc)
        else:
            dB += tl.load(dB_ptr + offs_part, mask=mask_bc & acc_b, other=0.0)  # no read when not accumulating
            dC += tl.load(dC_ptr + offs_part, mask=mask_bc & acc_c, other=0.0)
            tl.store(dB_ptr + offs_part, dB, mask=mask_bc)
            tl.store(dC_ptr + offs_part, dC, mask=mask_bc)
    per_channel = pid_b.to(tl.int64) * n_dim + offs_d  # (BD,) index into (B, D) partials
    tl.store(dA_ptr + per_channel[:, None] * N + offs_n[None, :], dA_acc, mask=mask_dn)
    tl.store(dD_ptr + per_channel, dD_acc, mask=mask_d)
    tl.store(dbias_ptr + per_channel, dbias_acc, mask=mask_d)
    if HAS_INIT:  # g_next is now the adjoint at the first scan step, g_0: the initial state's is a_0 g_0
        mask_first = mask_d[:, None] & (offs_s < L)[None, :]
        _, dt_first = _load_delta(dt_ptr, row[:, None] + _time_index(offs_s, L, REVERSE)[None, :], mask_first, bias,
                                  SOFTPLUS)  # (BD, CHUNK): the first chunk's steps
        dt_start = tl.sum(tl.where((offs_s == 0)[None, :], dt_first, 0.0), axis=1)  # (BD,)
        tl.store(dh0_ptr + state_off, tl.exp2(dt_start[:, None] * A2) * g_next, mask=mask_dn)


@triton.jit
def scan_bwd_kernel(u0, dt0, A0, B0, C0, D0, bias0, ck0, du0, ddt0, dB0, dC0, dA0, dD0, dbias0,
                    u1, dt1, A1, B1, C1, D1, bias1, ck1, du1, ddt1, dB1, dC1, dA1, dD1, dbias1,
                    z_ptr, dout_ptr, dz_ptr, dlast_ptr, dh0_ptr, n_batch, n_dim, L, n_chunks, scale,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, CHUNK: tl.constexpr,
                    GROUPS: tl.constexpr, HAS_Z: tl.constexpr, SOFTPLUS: tl.constexpr, REVERSE: tl.constexpr,
                    BIDIR: tl.constexpr, SHARE_U: tl.constexpr, SHARE_DT: tl.constexpr, SHARE_B: tl.constexpr,
                    SHARE_C: tl.constexpr, ATOMIC: tl.constexpr, HAS_INIT: tl.constexpr, HAS_DLAST: tl.constexpr):
    """Gradient buffers are fp32: du, ddt (B, D, L); dB, dC partials (channel groups, B, N, L) or, ATOMIC, one
    (1, B, N, L) zero-initialised buffer; dA (B, D, N); dD, dbias (B, D); dz (B, D, L). A program covers GROUPS
    blocks of BLOCK_D channels one after the other (small register tiles, few dB/dC partials).
    SHARE_*: direction 1 reuses direction 0's tensor, both write the same buffer. HAS_INIT / HAS_DLAST (one
    direction only): dh0 (B, D, N) out, the gradient of the initial state; dlast (B, D, N) in, of the last state."""
    pid_b = tl.program_id(0)
    pid_g = tl.program_id(1)
    if ATOMIC:
        pid_part = pid_g * 0
    else:
        pid_part = pid_g
    for sb in range(0, GROUPS):  # a runtime loop (not unrolled: compile time); sb > 0 adds into the dB/dC partial
        first_channel = (pid_g * GROUPS + sb) * BLOCK_D
        offs_d = first_channel + tl.arange(0, BLOCK_D)
        mask_d = offs_d < n_dim
        tl.debug_barrier()
        if first_channel >= n_dim:  # past the last channel: nothing to do
            pass
        elif BIDIR:
            _bwd_pass(u1, dt1, A1, B1, C1, D1, bias1, ck1, z_ptr, dout_ptr, du1, ddt1, dB1, dC1, dA1, dD1, dbias1,
                      dz_ptr, dlast_ptr, dh0_ptr, pid_b, pid_part, offs_d, mask_d, n_batch, n_dim, L, n_chunks,
                      scale, N, BLOCK_N, CHUNK, HAS_Z, SOFTPLUS, True, False, False, sb > 0, sb > 0, False, False,
                      ATOMIC, False, False)
            tl.debug_barrier()
            _bwd_pass(u0, dt0, A0, B0, C0, D0, bias0, ck0, z_ptr, dout_ptr, du0, ddt0, dB0, dC0, dA0, dD0, dbias0,
                      dz_ptr, dlast_ptr, dh0_ptr, pid_b, pid_part, offs_d, mask_d, n_batch, n_dim, L, n_chunks,
                      scale, N, BLOCK_N, CHUNK, HAS_Z, SOFTPLUS, False, SHARE_U, SHARE_DT, (sb > 0) | SHARE_B,
                      (sb > 0) | SHARE_C, True, True, ATOMIC, False, False)
        else:
            _bwd_pass(u0, dt0, A0, B0, C0, D0, bias0, ck0, z_ptr, dout_ptr, du0, ddt0, dB0, dC0, dA0, dD0, dbias0,
                      dz_ptr, dlast_ptr, dh0_ptr, pid_b, pid_part, offs_d, mask_d, n_batch, n_dim, L, n_chunks,
                      scale, N, BLOCK_N, CHUNK, HAS_Z, SOFTPLUS, REVERSE, False, False, sb > 0, sb > 0, False, True,
                      ATOMIC, HAS_INIT, HAS_DLAST)
