"""Selective scan (Mamba-1) in Triton: one or both directions fused, forward and backward (docs/REFERENCE.md §8).

Public API (called by `aum.ops.dispatch`):
    triton_available() -> (ok, reason)
    selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False,
                          initial_state=None, return_last_state=False) -> y, or (y, last_state)
    bidirectional_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, *, A_b, u_b=None, ...,
                              delta_softplus=True, merge="sum")
Both are autograd-capable (`torch.autograd.Function` whose backward is a Triton kernel) and return u's dtype.

State (one direction only, for scanning a long sequence in pieces): `initial_state` (B, D, N) is the state h before
the first scan step (before t = 0, or for reverse=True before t = L-1; None: zeros); `last_state` (B, D, N) fp32 is
the state after the last scan step (after t = L-1, or t = 0 for reverse). So scanning x1 then x2 from x1's last
state equals scanning [x1, x2] (reverse: x2 first, then x1 from x2's last state). Gradients flow to initial_state
and from last_state (its gradient seeds the adjoint at the last step), so pieces chain under autograd. Without a
state the kernels compile exactly as before (constexpr HAS_INIT / STORE_LAST / HAS_DLAST switch the extra loads
and stores off); the bidirectional scan always starts from zeros.

Design (kernels in `triton_scan_kernels.py`)
- One program per (batch, block of BLOCK_D channels); the bidirectional scan runs both directions in the same
  program (the reverse one first, storing its raw y in the output; then the forward one adds its y, scales for
  "mean", gates with silu(z) and writes the merged output once). No flipped copies: the reverse direction reads
  t = L-1-s. The state never goes to HBM except one checkpoint per chunk (CHUNK steps) for the backward.
- Inside a chunk the recurrence is an associative scan (`tl.associative_scan`) of (exp(dt A), dt B u) pairs over
  a (BLOCK_D, CHUNK, N) register tile; softplus(dt + bias), the discretisation, C·h, the D skip and the gate are
  fused. Math is fp32 whatever the I/O dtype (bf16/fp16/fp32).
- Backward: per chunk (last to first), recompute the states from the checkpoint (the first is the initial state),
  then run the adjoint g_s = dy_s C_s + exp(dt_{s+1} A) g_{s+1} (+ d last_state at the last step) as a reverse
  associative scan; d initial_state = exp(dt_0 A) g_0. a_s h_{s-1} is read back as h_s - dt B u
  (no shifted state needed). dA, dD, dbias are summed per program in fp32 and stored as per-batch partials; dB, dC
  as per-program partials (a backward program walks `bwd_groups` channel tiles one after the other and adds into
  its partial); both are summed with torch afterwards, in a fixed order: by default the kernels are DETERMINISTIC
  (no atomics). The cost is memory for the dB/dC partials, ceil(D / (block_d * bwd_groups)) x (B, N, L) fp32 each
  (48 x at D=1536 with the defaults); `KERNEL_CONFIG.deterministic = False` uses atomic adds into one buffer.
  When the two directions share a tensor (Fo-Bi "v1": u, delta, B, C), the second pass adds into the gradient
  the first wrote (same program, after a barrier).
- Exponential bottleneck: the scan needs N exponentials per (token, channel, direction) for exp(dt A); they are
  computed as exp2(dt * (A * log2 e)) with A pre-scaled once per program, i.e. one MUFU ex2 and one multiply each.
  The backward needs 2N per step (the recomputed decay a_s and the adjoint's a_{s+1}, re-read from delta rather
  than shifted in registers), so forward+backward costs 3N per direction against mamba_ssm's 2N.
  Compile figures and what a GPU session should measure: BENCHMARKS.md ("Triton scan: lab notes").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypedDict

import torch

from aum.errors import ConfigError, UnavailableError
from aum.ops.scan_ref import OptionalTensor


@dataclass
class ScanKernelConfig:
    block_d: int = 4  # channels per register tile (forward: per program)
    chunk: int = 32  # time steps per register tile (and per backward checkpoint)
    num_warps: int = 4
    bwd_groups: int = 8  # backward: channel tiles per program, one after the other (fewer dB/dC partials)
    deterministic: bool = True  # False: dB/dC by atomic adds (no partials, run-to-run differences in the last bits)


KERNEL_CONFIG = ScanKernelConfig()  # module-level so tests and benchmarks can tune it


class ScanSpec(TypedDict):
    """What one launch computes (the kernels' compile-time switches and the merge scale)."""

    bidir: bool
    reverse: bool
    softplus: bool
    scale: float  # 1 for one direction or "sum", 0.5 for "mean"
    last_state: bool  # also return the state after the last step (one direction only)


def triton_available() -> tuple[bool, str]:
    try:
        import triton  # noqa: F401
    except ImportError as e:  # the `triton` extra is not installed (or not available on this platform)
        return False, f"triton is not importable ({e}); install with `pip install 'aum[triton]'`"
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
        return False, "no CUDA device (set TRITON_INTERPRET=1 to run the Triton kernels on the CPU, slowly)"
    return True, "triton " + triton.__version__


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _vec(x: OptionalTensor, dim: int, like: torch.Tensor) -> torch.Tensor:  # (D,) fp32, zeros when absent
    return torch.zeros(dim, dtype=torch.float32, device=like.device) if x is None else x.float().contiguous()


def _kernel_inputs(direction: list[OptionalTensor], dim: int, like: torch.Tensor) -> list[torch.Tensor]:
    """(u, delta, A, B, C, D, bias) as the kernels read them: contiguous, A fp32, D and bias (D,) fp32."""
    u, dt, A, Bm, Cm, Dv, bias = direction
    assert u is not None and dt is not None and A is not None and Bm is not None and Cm is not None  # required
    return [u.contiguous(), dt.contiguous(), A.float().contiguous(), Bm.contiguous(), Cm.contiguous(),
            _vec(Dv, dim, like), _vec(bias, dim, like)]


class _ScanFn(torch.autograd.Function):
    """Inputs: (spec, z, h0, *dir0, *dir1); dir = (u, delta, A, B, C, D, bias); dir1 entries None reuse dir0's
    (all None when spec.bidir is False); h0 the initial state or None. Output: y, and the last state when
    spec.last_state."""

    @staticmethod
    def forward(ctx: Any, spec: ScanSpec, z: OptionalTensor, h0: OptionalTensor,
                *tensors: OptionalTensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        from aum.ops.triton_scan_kernels import scan_fwd_kernel  # needs triton: only on CUDA machines

        dir0 = list(tensors[:7])
        shared = [x is None for x in tensors[7:]]
        dir1 = [a if b is None else b for a, b in zip(dir0, tensors[7:])]
        u, A = dir0[0], dir0[2]
        assert u is not None and A is not None  # required (D and bias may be None)
        batch, dim, length = u.shape
        n_state = A.shape[1]
        cfg = KERNEL_CONFIG
        n_chunks = _cdiv(length, cfg.chunk)
        resolved = [_kernel_inputs(d, dim, u) for d in (dir0, dir1)]
        z_c = z.contiguous() if z is not None else resolved[0][0]
        out = torch.empty_like(resolved[0][0])
        store_states = any(ctx.needs_input_grad)
        ck_shape = (batch, dim, n_chunks, n_state) if store_states else (1, 1, 1, 1)  # none without autograd
        ck = torch.empty(2 if spec["bidir"] else 1, *ck_shape, dtype=torch.float32, device=u.device)
        h0_c = h0.float().contiguous() if h0 is not None else ck  # ck: a placeholder, not read without HAS_INIT
        last = torch.empty(batch, dim, n_state, dtype=torch.float32, device=u.device) if spec["last_state"] else ck
        grid = (batch, _cdiv(dim, cfg.block_d))
        scan_fwd_kernel[grid](*resolved[0], ck[0], *resolved[1], ck[-1], z_c, out, h0_c, last, dim, length,
                              n_chunks, spec["scale"], N=n_state, BLOCK_N=_next_pow2(n_state), BLOCK_D=cfg.block_d,
                              CHUNK=cfg.chunk, HAS_Z=z is not None, SOFTPLUS=spec["softplus"],
                              REVERSE=spec["reverse"], BIDIR=spec["bidir"], STORE_STATES=store_states,
                              HAS_INIT=h0 is not None, STORE_LAST=spec["last_state"], num_warps=cfg.num_warps)
        ctx.spec, ctx.shared, ctx.cfg = spec, shared, cfg
        ctx.had = [x is not None for x in tensors]  # which inputs get a gradient back
        ctx.dtypes = [x.dtype if x is not None else None for x in tensors]
        ctx.z_dtype = z.dtype if z is not None else None
        ctx.h0_dtype = h0.dtype if h0 is not None else None
        ctx.save_for_backward(z_c if z is not None else None, ck, *resolved[0], *resolved[1])
        return (out, last) if spec["last_state"] else out

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor, dlast: OptionalTensor = None) -> tuple[OptionalTensor, ...]:
        from aum.ops.triton_scan_kernels import scan_bwd_kernel  # needs triton: only on CUDA machines

        z, ck, *flat = ctx.saved_tensors
        dirs = [flat[:7], flat[7:]]
        spec, cfg, bidir = ctx.spec, ctx.cfg, ctx.spec["bidir"]
        u = dirs[0][0]
        batch, dim, length = u.shape
        n_state = dirs[0][2].shape[1]
        n_chunks, n_groups = ck.shape[3], _cdiv(dim, cfg.block_d * cfg.bwd_groups)
        n_parts = n_groups if cfg.deterministic else 1
        f32 = dict(dtype=torch.float32, device=u.device)
        partial = torch.empty if cfg.deterministic else torch.zeros  # atomics add into zeros

        def buffers(share_with: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
            """du, ddt, dB, dC, dA, dD, dbias for one direction; u, delta, B, C shared with `share_with`'s."""
            big = [torch.empty(batch, dim, length, **f32), torch.empty(batch, dim, length, **f32),
                   partial(n_parts, batch, n_state, length, **f32), partial(n_parts, batch, n_state, length, **f32)]
            if share_with is not None:
                share = ctx.shared[:2] + ctx.shared[3:5]  # u, delta, B, C
                big = [share_with[i] if s else fresh for i, (s, fresh) in enumerate(zip(share, big))]
            return big + [torch.empty(batch, dim, n_state, **f32), torch.empty(batch, dim, **f32),
                          torch.empty(batch, dim, **f32)]

        g0 = buffers()
        g1 = buffers(share_with=g0) if bidir else g0
        dz = torch.empty(batch, dim, length, **f32) if z is not None else dout
        has_init = ctx.h0_dtype is not None
        dh0 = torch.empty(batch, dim, n_state, **f32) if has_init else ck  # ck: a placeholder, not written
        dlast_c = dlast.float().contiguous() if dlast is not None else ck  # not read without HAS_DLAST
        scan_bwd_kernel[(batch, n_groups)](*dirs[0], ck[0], *g0, *dirs[1], ck[-1], *g1, z if z is not None else u,
                              dout.contiguous(), dz, dlast_c, dh0, batch, dim, length, n_chunks, spec["scale"],
                              N=n_state, BLOCK_N=_next_pow2(n_state), BLOCK_D=cfg.block_d, CHUNK=cfg.chunk,
                              GROUPS=cfg.bwd_groups, HAS_Z=z is not None, SOFTPLUS=spec["softplus"],
                              REVERSE=spec["reverse"], BIDIR=bidir, SHARE_U=ctx.shared[0], SHARE_DT=ctx.shared[1],
                              SHARE_B=ctx.shared[3], SHARE_C=ctx.shared[4], ATOMIC=not cfg.deterministic,
                              HAS_INIT=has_init, HAS_DLAST=dlast is not None, num_warps=cfg.num_warps)

        def reduce(g: list[torch.Tensor], other: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
            """-> grads of (u, delta, A, B, C, D, bias); shared D/bias add `other`'s."""
            du, ddt, dB, dC, dA, dD, dbias = g
            dD, dbias = dD.sum(0), dbias.sum(0)
            if other is not None:
                dD = dD + other[5].sum(0) if ctx.shared[5] else dD
                dbias = dbias + other[6].sum(0) if ctx.shared[6] else dbias
            return [du, ddt, dA.sum(0), dB.sum(0), dC.sum(0), dD, dbias]

        grads = reduce(g0, g1 if bidir else None) + (reduce(g1) if bidir else [None] * 7)
        grads = [g.to(dt) if has and g is not None else None for g, has, dt in zip(grads, ctx.had, ctx.dtypes)]
        dz_out = dz.to(ctx.z_dtype) if z is not None else None
        return (None, dz_out, dh0.to(ctx.h0_dtype) if has_init else None, *grads)


def _check(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> None:
    ok, reason = triton_available()
    if not ok:
        raise UnavailableError(f"Triton scan unavailable: {reason}")
    if u.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise UnavailableError("Triton scan needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")
    if u.dim() != 3 or delta.shape != u.shape or A.dim() != 2 or A.shape[0] != u.shape[1]:
        raise ConfigError(f"selective scan shapes: u {tuple(u.shape)}, delta {tuple(delta.shape)}, A {tuple(A.shape)}")
    expected = (u.shape[0], A.shape[1], u.shape[2])
    if B.shape != expected or C.shape != expected:
        raise ConfigError(f"selective scan: B {tuple(B.shape)} and C {tuple(C.shape)} must be (batch, N, L)={expected}")


def selective_scan_triton(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                          D: OptionalTensor = None, z: OptionalTensor = None, delta_bias: OptionalTensor = None,
                          delta_softplus: bool = False, reverse: bool = False, initial_state: OptionalTensor = None,
                          return_last_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """u, delta, z (B, D, L); A (D, N); B, C (B, N, L); D, delta_bias (D,); initial_state (B, D, N), the state
    before the first scan step (None: zeros). Returns y (B, D, L) in u's dtype, or (y, last_state (B, D, N) fp32)
    with return_last_state (the state after the last scan step: after t = 0 for reverse)."""
    _check(u, delta, A, B, C)
    expected = (u.shape[0], u.shape[1], A.shape[1])
    if initial_state is not None and initial_state.shape != expected:
        raise ConfigError(f"selective scan: initial_state {tuple(initial_state.shape)} must be (batch, D, N)="
                          f"{expected}")
    spec = ScanSpec(bidir=False, reverse=bool(reverse), softplus=bool(delta_softplus), scale=1.0,
                    last_state=bool(return_last_state))
    return _ScanFn.apply(spec, z, initial_state, u, delta, A, B, C, D, delta_bias, *(None,) * 7)


def bidirectional_scan_triton(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                              C: torch.Tensor, D: OptionalTensor = None, z: OptionalTensor = None,
                              delta_bias: OptionalTensor = None, *, A_b: torch.Tensor, u_b: OptionalTensor = None,
                              delta_b: OptionalTensor = None, B_b: OptionalTensor = None, C_b: OptionalTensor = None,
                              D_b: OptionalTensor = None, delta_bias_b: OptionalTensor = None,
                              delta_softplus: bool = True, merge: str = "sum") -> torch.Tensor:
    """merge(scan(u, ..., z), scan(u_b, ..., z, reverse=True)) in one launch; every *_b left None reuses the forward
    tensor; inputs in original time order; merge "sum" (Fo-Bi v1) or "mean" (Bi-Bi v2)."""
    if merge not in ("sum", "mean"):
        raise ConfigError(f"merge must be 'sum' or 'mean', got {merge!r}")
    _check(u, delta, A, B, C)
    _check(u if u_b is None else u_b, delta if delta_b is None else delta_b, A_b, B if B_b is None else B_b,
           C if C_b is None else C_b)
    spec = ScanSpec(bidir=True, reverse=False, softplus=bool(delta_softplus), scale=1.0 if merge == "sum" else 0.5,
                    last_state=False)
    return _ScanFn.apply(spec, z, None, u, delta, A, B, C, D, delta_bias, u_b, delta_b, A_b, B_b, C_b, D_b,
                         delta_bias_b)
