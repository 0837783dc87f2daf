"""Tune and time the Triton scan kernels at the GPU acceptance shapes: one command for a GPU session.

    python -m aum.bench.triton                       # B=8, D=1536, N=16, L=4096, bf16, config sweep
    python -m aum.bench.triton --lengths 1024,4096,16384,65536 --configs 4:32:4:8

For every kernel configuration (block_d:chunk:num_warps[:bwd_groups], see `ScanKernelConfig`) it times, with
CUDA events (median after warm-up): `fwd1` one direction forward, `fwd1_2x` the same in two calls of L/2 with the
state carried from one to the other (initial_state / return_last_state: the cost of scanning in pieces), `bi_fwd`
the fused bidirectional forward (Fo-Bi v1: shared u/delta/B/C, merge sum), `bi_fwdbwd` the same forward +
backward. It prints ms, the share of the device-to-device copy bandwidth (mamba_ssm reaches about 19 %) and
exponentials per second (N per token, channel and direction in the forward; the backward recomputes them and the
adjoint's a_{s+1}: 3N per direction for forward + backward).
Targets at L=4096 bf16: bi_fwd <= 1.2 ms, bi_fwdbwd <= 10 ms.
On the CPU (TRITON_INTERPRET=1) it runs through the interpreter: only useful as a smoke test at tiny sizes.

    python -m aum.bench.triton --compile-only --arch 90   # no GPU needed: registers / stack per config

`--compile-only` compiles both kernels to a cubin for the given architecture with Triton's bundled toolchain and
prints the registers and stack (spill) bytes per thread that `cuobjdump --dump-resource-usage` reports.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import re
import statistics
import subprocess
import tempfile

import torch

from aum.bench.timing import time_ms
from aum.ops import triton_scan
from aum.ops import triton_scan_kernels as kernels

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
DEFAULT_CONFIGS = "4:32:4:8,4:16:4:8,8:32:4:4,8:16:4:4,4:64:8:8,16:32:8:2,2:32:2:16"


def _timer(device: torch.device, warmup: int, repeats: int):
    return lambda fn: statistics.median(time_ms(fn, device, warmup, repeats))


def _inputs(batch, dim, state, length, dtype, device, grad):
    g = torch.Generator(device=device).manual_seed(0)

    def rnd(*shape, dt=dtype):
        return torch.randn(*shape, generator=g, device=device).to(dt).requires_grad_(grad)

    A = (-torch.rand(dim, state, generator=g, device=device) - 0.5).requires_grad_(grad)
    A_b = (-torch.rand(dim, state, generator=g, device=device) - 0.5).requires_grad_(grad)
    return dict(u=rnd(batch, dim, length), delta=rnd(batch, dim, length), A=A, B=rnd(batch, state, length),
                C=rnd(batch, state, length), D=rnd(dim, dt=torch.float32), z=rnd(batch, dim, length),
                delta_bias=rnd(dim, dt=torch.float32)), A_b


def _copy_gbps(device: torch.device, nbytes: int, measure) -> float:
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / measure(lambda: dst.copy_(src)) / 1e6  # read + write, GB/s


def _in_two_calls(first: dict, second: dict, h0: torch.Tensor) -> torch.Tensor:
    """One direction over [first, second] (inputs cut along time beforehand), the state carried between the calls;
    both take and return a state (one compiled variant per config, as for a middle piece of a stream)."""
    _, h = triton_scan.selective_scan_triton(**first, delta_softplus=True, initial_state=h0, return_last_state=True)
    return triton_scan.selective_scan_triton(**second, delta_softplus=True, initial_state=h, return_last_state=True)


def bench(batch, dim, state, length, dtype, configs, device, warmup, repeats) -> list[dict]:
    measure = _timer(device, warmup, repeats)
    x, A_b = _inputs(batch, dim, state, length, dtype, device, grad=False)
    xg, A_bg = _inputs(batch, dim, state, length, dtype, device, grad=True)
    leaves, dout = [*xg.values(), A_bg], torch.randn_like(xg["u"])
    esize = torch.finfo(dtype).bits // 8
    # HBM bytes per direction: u, delta, z, out per (token, channel) + B, C per (token, state)
    io_bytes = batch * length * (4 * dim * esize + 2 * state * esize)
    copy_gbps = _copy_gbps(device, max(io_bytes, 1 << 20), measure) if device.type == "cuda" else float("nan")
    exps = batch * dim * length * state
    halves = [{k: v[..., part].contiguous() if v.dim() == 3 else v for k, v in x.items()}  # (B, *, L) cut at L/2
              for part in (slice(0, length // 2), slice(length // 2, None))]
    h0 = torch.zeros(batch, dim, state, device=device)
    cases = {
        "fwd1": (lambda: triton_scan.selective_scan_triton(**x, delta_softplus=True), exps, io_bytes),
        "fwd1_2x": (lambda: _in_two_calls(*halves, h0), exps, io_bytes),
        "bi_fwd": (lambda: triton_scan.bidirectional_scan_triton(**x, A_b=A_b), 2 * exps, 2 * io_bytes),
        "bi_fwdbwd": (lambda: torch.autograd.grad(triton_scan.bidirectional_scan_triton(**xg, A_b=A_bg),
                                                  leaves, dout), 6 * exps, 6 * io_bytes),
    }
    rows = []
    saved = triton_scan.KERNEL_CONFIG
    try:
        for config in configs:
            block_d, chunk, warps, *groups = config
            triton_scan.KERNEL_CONFIG = dataclasses.replace(saved, block_d=block_d, chunk=chunk, num_warps=warps,
                                                            bwd_groups=groups[0] if groups else saved.bwd_groups)
            for name, (fn, n_exp, n_bytes) in cases.items():
                ms = measure(fn)
                gbps = n_bytes / (ms * 1e6)
                rows.append(dict(case=name, config=":".join(map(str, config)), batch=batch, dim=dim, state=state,
                                 length=length, dtype=str(dtype).removeprefix("torch."), ms=ms, gb_per_s=gbps,
                                 copy_gb_per_s=copy_gbps, copy_share=gbps / copy_gbps,
                                 gexp_per_s=n_exp / (ms * 1e6)))
    finally:
        triton_scan.KERNEL_CONFIG = saved
    return rows


IO_ARGS = {"u0", "dt0", "B0", "C0", "u1", "dt1", "B1", "C1", "z_ptr", "out_ptr", "dout_ptr"}  # in the I/O dtype
INT_ARGS = {"n_batch", "n_dim", "L", "n_chunks"}


def compile_report(configs, arch: int = 90, dtype: str = "bf16", state: int = 16,
                   stateful: bool = False) -> list[dict]:
    """Compile the forward and backward kernels (bidirectional, Fo-Bi sharing; `stateful`: one direction with an
    initial state in, the last state out and its gradient in) for `sm_<arch>` without a device;
    returns {kernel, config, registers, stack_bytes} per config (None where cuobjdump is missing)."""
    import triton  # optional: CUDA machines and the CPU interpreter only
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    tl_dtype = {"bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}[dtype]
    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    rows = []
    for block_d, chunk, warps, *groups in configs:
        flags = dict(N=state, BLOCK_N=state, BLOCK_D=block_d, CHUNK=chunk, HAS_Z=True, SOFTPLUS=True, REVERSE=False,
                     BIDIR=not stateful, STORE_STATES=True, GROUPS=groups[0] if groups else 8, SHARE_U=True,
                     SHARE_DT=True, SHARE_B=True, SHARE_C=True, ATOMIC=False, HAS_INIT=stateful, STORE_LAST=stateful,
                     HAS_DLAST=stateful)
        for name, kernel in (("fwd", kernels.scan_fwd_kernel), ("bwd", kernels.scan_bwd_kernel)):
            signature = {a: "constexpr" if a in flags else "i32" if a in INT_ARGS else "fp32" if a == "scale"
                         else f"*{tl_dtype}" if a in IO_ARGS else "*fp32" for a in kernel.arg_names}
            constexprs = {(kernel.arg_names.index(a),): flags[a] for a in kernel.arg_names if a in flags}
            compiled = triton.compile(ASTSource(fn=kernel, signature=signature, constexprs=constexprs),
                                      target=GPUTarget("cuda", arch, 32), options=dict(num_warps=warps))
            usage = ""
            if os.path.exists(cuobjdump):
                with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
                    f.write(compiled.asm["cubin"])
                    f.flush()
                    usage = subprocess.run([cuobjdump, "--dump-resource-usage", f.name], capture_output=True,
                                           text=True).stdout
            regs, stack = re.search(r"REG:(\d+)", usage), re.search(r"STACK:(\d+)", usage)
            rows.append(dict(kernel=name, config=":".join(map(str, (block_d, chunk, warps, *groups))),
                             registers=int(regs.group(1)) if regs else None,
                             stack_bytes=int(stack.group(1)) if stack else None))
    return rows


def _append_csv(rows: list[dict], path: str) -> None:
    """Append rows to a CSV (header written when the file is new), so that a run cut off later keeps them."""
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aum.bench.triton", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--dim", type=int, default=1536)
    p.add_argument("--state", type=int, default=16)
    p.add_argument("--lengths", default="4096", help="comma list")
    p.add_argument("--dtype", default="bf16", choices=list(DTYPES))
    p.add_argument("--configs", default=DEFAULT_CONFIGS,
                   help="comma list of block_d:chunk:num_warps[:bwd_groups] (KERNEL_CONFIG fields)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--compile-only", action="store_true", help="compile for --arch, print registers (no GPU needed)")
    p.add_argument("--arch", type=int, default=90, help="CUDA compute capability for --compile-only (default 90)")
    p.add_argument("--out", default=None, help="CSV file for the timed rows (appended to when it exists)")
    args = p.parse_args(argv)
    configs = [tuple(int(v) for v in c.split(":")) for c in args.configs.split(",")]
    if args.compile_only:
        print(f"{'kernel':<6} {'config':>10} {'registers':>10} {'stack B':>8}   (sm_{args.arch}, {args.dtype})")
        for r in compile_report(configs, args.arch, args.dtype, args.state):
            print(f"{r['kernel']:<6} {r['config']:>10} {str(r['registers']):>10} {str(r['stack_bytes']):>8}")
        return 0
    ok, reason = triton_scan.triton_available()
    if not ok:
        raise SystemExit(f"aum.bench.triton: {reason}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (Triton interpreter)"
    print(f"{name}; B={args.batch} D={args.dim} N={args.state} {args.dtype}; torch {torch.__version__}")
    print(f"{'case':<10} {'config':>9} {'L':>7} {'ms':>10} {'copy BW %':>10} {'Gexp/s':>9}")
    for length in (int(v) for v in args.lengths.split(",")):
        rows = []
        for config in configs:  # one config at a time, each written at once (a run cut off keeps what it timed)
            done = bench(args.batch, args.dim, args.state, length, DTYPES[args.dtype], [config], device,
                         args.warmup, args.repeats)
            for r in done:
                print(f"{r['case']:<10} {r['config']:>9} {r['length']:>7} {r['ms']:>10.3f} "
                      f"{100 * r['copy_share']:>10.1f} {r['gexp_per_s']:>9.1f}")
            if args.out:
                _append_csv(done, args.out)
            rows += done
        for case in dict.fromkeys(r["case"] for r in rows):
            best = min((r for r in rows if r["case"] == case), key=lambda r: r["ms"])
            print(f"best {case} at L={length}: {best['ms']:.3f} ms with block_d:chunk:num_warps:bwd_groups = "
                  f"{best['config']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
