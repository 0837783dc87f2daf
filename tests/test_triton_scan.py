"""Triton selective scan vs the reference loop: values and gradients, one direction and fused bidirectional.

On the CPU the kernels run through Triton's interpreter, which must be switched on (TRITON_INTERPRET=1) before
`triton` is first imported in the process: `triton.language`'s own helpers are decorated at that import. So in a
plain `pytest` run the interpreter cases skip here and `test_interpreter_cases_in_subprocess` runs this file again
in a child process with TRITON_INTERPRET=1 (nothing leaks into other test files); run them directly with
`TRITON_INTERPRET=1 pytest tests/test_triton_scan.py`. On a CUDA machine the `test_cuda_*` cases run the compiled
kernels in-process.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

from aum.ops.scan_ref import selective_scan_ref

pytest.importorskip("triton")

IN_INTERPRETER = os.environ.get("TRITON_INTERPRET") == "1"
# mamba_ssm's own test tolerances (rtol, atol) against its reference, docs/REFERENCE.md §8
TOL = {torch.float32: (6e-4, 2e-3), torch.float16: (3e-3, 5e-3), torch.bfloat16: (3e-2, 5e-2)}


@pytest.fixture()
def interpreted():
    if not IN_INTERPRETER:
        pytest.skip("interpreter case: run by test_interpreter_cases_in_subprocess")
    from aum.ops import triton_scan

    old_cfg = dataclasses.replace(triton_scan.KERNEL_CONFIG)
    # tiny tiles so that the small test shapes cross channel tiles, backward groups and chunk boundaries
    cfg = triton_scan.KERNEL_CONFIG
    cfg.block_d, cfg.chunk, cfg.bwd_groups = 4, 8, 2
    try:
        yield triton_scan
    finally:
        triton_scan.KERNEL_CONFIG = old_cfg


@pytest.mark.skipif(IN_INTERPRETER, reason="already running in the interpreter")
def test_interpreter_cases_in_subprocess():
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", __file__],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "interpreter case" not in proc.stdout, proc.stdout[-2000:]


def make_inputs(batch, dim, n_state, length, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0, dt=dtype):
        return (torch.randn(*shape, generator=g) * scale + shift).to(device=device, dtype=dt).requires_grad_()

    return dict(u=rand(batch, dim, length), delta=rand(batch, dim, length, scale=0.5, shift=-1.0),
                A=(-torch.rand(dim, n_state, generator=g) * 2 - 0.1).to(device).requires_grad_(),
                B=rand(batch, n_state, length), C=rand(batch, n_state, length),
                D=rand(dim, dt=torch.float32), z=rand(batch, dim, length),
                delta_bias=rand(dim, scale=0.3, dt=torch.float32))


def assert_close_grads(out, ref, inputs, dtype, grad_scale=2.0):
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(out, ref, rtol=rtol, atol=atol)
    names = list(inputs)
    grad_out = torch.randn_like(ref)
    got = torch.autograd.grad(out, [inputs[k] for k in names], grad_out, allow_unused=True)
    want = torch.autograd.grad(ref, [inputs[k] for k in names], grad_out, allow_unused=True)
    for name, a, b in zip(names, got, want):
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype, name
            # sums over L (dA, dD, dbias) and over channels (dB, dC) grow with the size: compare relative to it
            scale = max(1.0, b.float().abs().max().item())
            torch.testing.assert_close(a.float() / scale, b.float() / scale, rtol=rtol * grad_scale,
                                       atol=atol * grad_scale, msg=lambda m, n=name: f"grad {n}: {m}")


def ref_bidirectional(x, xb, merge):
    fwd = selective_scan_ref(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"], True)
    bwd = selective_scan_ref(xb["u"], xb["delta"], xb["A"], xb["B"], xb["C"], xb["D"], x["z"], xb["delta_bias"],
                             True, reverse=True)
    out = fwd.float() + bwd.float()
    return (out if merge == "sum" else out / 2).to(x["u"].dtype)


def ref_with_state(x, h0, reverse=False, delta_softplus=True):
    """The reference scan from an initial state h0 -> (y, last state)."""
    return selective_scan_ref(**x, delta_softplus=delta_softplus, reverse=reverse, initial_state=h0,
                              return_last_state=True)


def split_time(x, length):
    """(first, second) pieces of the inputs along time: [:length] and [length:]."""
    return ({k: v[..., part] if v.dim() == 3 else v for k, v in x.items()}
            for part in (slice(0, length), slice(length, None)))


def scan_in_two_pieces(scan, x, length, reverse, **kwargs):
    """Scan the pieces [:length], [length:] one after the other (reverse: the later first), the state carried from
    one call to the next; -> (y of the whole sequence, last state)."""
    first, second = split_time(x, length)
    if reverse:
        first, second = second, first
    y1, h = scan(**first, reverse=reverse, return_last_state=True, **kwargs)
    y2, last = scan(**second, reverse=reverse, initial_state=h, return_last_state=True, **kwargs)
    return torch.cat([y2, y1] if reverse else [y1, y2], dim=-1), last


def flat(y, last):
    return torch.cat([y.flatten(), last.flatten()])


# chunk 8, 2 chunks per backward group (see `interpreted`): 17 steps are 3 chunks in 2 groups, the last of each
# partial, as in a long sequence
@pytest.mark.parametrize("length", [1, 7, 17])
@pytest.mark.parametrize("reverse", [False, True])
def test_one_direction_matches_reference(interpreted, length, reverse):
    x = make_inputs(2, 6, 4, length, seed=length)
    out = interpreted.selective_scan_triton(**x, delta_softplus=True, reverse=reverse)
    ref = selective_scan_ref(**x, delta_softplus=True, reverse=reverse)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert_close_grads(out, ref, x, torch.float32)


# B=2, D=5 (a partly masked channel tile), N=3 (padded to 4); pieces of 1, 13 (2 chunks), 37 (5 chunks: both
# backward groups, the last chunk partial)
@pytest.mark.parametrize("length", [1, 13, 37])
@pytest.mark.parametrize("reverse", [False, True])
def test_state_carried_over_two_calls_equals_one_call(interpreted, length, reverse):
    x = make_inputs(2, 5, 3, 2 * length, seed=10 + length)
    y, last = scan_in_two_pieces(interpreted.selective_scan_triton, x, length, reverse, delta_softplus=True)
    ref, ref_last = selective_scan_ref(**x, delta_softplus=True, reverse=reverse, return_last_state=True)
    assert last.shape == (2, 5, 3) and last.dtype == torch.float32
    one_y, one_last = interpreted.selective_scan_triton(**x, delta_softplus=True, reverse=reverse,
                                                        return_last_state=True)
    torch.testing.assert_close(flat(y, last), flat(one_y, one_last), rtol=1e-5, atol=1e-5)
    # gradients through both pieces and the carried state (d last_state in, d initial_state out)
    assert_close_grads(flat(y, last), flat(ref, ref_last), x, torch.float32)


@pytest.mark.parametrize("length", [1, 13, 37])
@pytest.mark.parametrize("reverse", [False, True])
def test_initial_state_matches_reference(interpreted, length, reverse):
    x = make_inputs(2, 5, 3, length, seed=20 + length)
    h0 = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(length)).requires_grad_()
    y, last = interpreted.selective_scan_triton(**x, delta_softplus=True, reverse=reverse, initial_state=h0,
                                                return_last_state=True)
    ref, ref_last = ref_with_state(x, h0, reverse)
    assert_close_grads(flat(y, last), flat(ref, ref_last), dict(x, initial_state=h0), torch.float32)


@pytest.mark.parametrize("return_last_state", [False, True])
def test_initial_state_plain_without_optional_inputs(interpreted, return_last_state):
    x = make_inputs(2, 5, 3, 13, seed=30)
    for k in ("D", "z", "delta_bias"):
        x.pop(k)
    x["delta"] = torch.rand(2, 5, 13).requires_grad_()  # a positive step without softplus
    h0 = torch.randn(2, 5, 3).requires_grad_()
    out = interpreted.selective_scan_triton(**x, initial_state=h0, return_last_state=return_last_state)
    ref = ref_with_state(x, h0, delta_softplus=False)
    if not return_last_state:  # only y: the backward without a last-state gradient
        ref = ref[0]
    assert_close_grads(flat(*out) if return_last_state else out, flat(*ref) if return_last_state else ref,
                       dict(x, initial_state=h0), torch.float32)


def test_initial_state_half_precision(interpreted):
    x = make_inputs(2, 5, 3, 17, dtype=torch.bfloat16, seed=31)
    h0 = torch.randn(2, 5, 3).requires_grad_()
    y, last = interpreted.selective_scan_triton(**x, delta_softplus=True, reverse=True, initial_state=h0,
                                                return_last_state=True)
    assert y.dtype == torch.bfloat16 and last.dtype == torch.float32
    ref, ref_last = ref_with_state(x, h0, reverse=True)
    assert_close_grads(flat(y.float(), last), flat(ref.float(), ref_last), dict(x, initial_state=h0), torch.bfloat16)


def test_one_direction_plain_no_optional_inputs_odd_state(interpreted):
    x = make_inputs(2, 3, 3, 9)  # N=3: the state axis is padded to 4 in the kernel
    for k in ("D", "z", "delta_bias"):
        x.pop(k)
    x["delta"] = torch.rand(2, 3, 9).requires_grad_()  # a positive step without softplus
    out = interpreted.selective_scan_triton(**x)
    assert_close_grads(out, selective_scan_ref(**x), x, torch.float32)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_one_direction_half_precision(interpreted, dtype):
    x = make_inputs(2, 5, 4, 17, dtype=dtype)
    out = interpreted.selective_scan_triton(**x, delta_softplus=True)
    assert out.dtype == dtype
    assert_close_grads(out, selective_scan_ref(**x, delta_softplus=True), x, dtype)


@pytest.mark.parametrize("length", [1, 17])
def test_bidirectional_v1_shared_inputs_sum(interpreted, length):
    x = make_inputs(2, 8, 4, length, seed=1)
    A_b = (-torch.rand(8, 4) - 0.2).requires_grad_()
    out = interpreted.bidirectional_scan_triton(**x, A_b=A_b, merge="sum")
    ref = ref_bidirectional(x, dict(x, A=A_b), "sum")
    assert_close_grads(out, ref, dict(x, A_b=A_b), torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_bidirectional_v2_separate_inputs_mean(interpreted, dtype):
    x, xb = make_inputs(2, 5, 4, 7, dtype, seed=2), make_inputs(2, 5, 4, 7, dtype, seed=3)
    xb.pop("z")
    out = interpreted.bidirectional_scan_triton(**x, **{f"{k}_b": v for k, v in xb.items()}, merge="mean")
    assert out.dtype == dtype
    ref = ref_bidirectional(x, xb, "mean")
    assert_close_grads(out, ref, dict(x, **{f"{k}_b": v for k, v in xb.items()}), dtype)


def test_atomic_mode_matches_reference(interpreted):
    interpreted.KERNEL_CONFIG.deterministic = False  # dB/dC by atomic adds into one buffer
    x = make_inputs(2, 10, 4, 7, seed=6)  # 10 channels: 2 programs x 2 tiles of 4, the last one partly masked
    A_b = (-torch.rand(10, 4) - 0.2).requires_grad_()
    out = interpreted.bidirectional_scan_triton(**x, A_b=A_b, merge="sum")
    assert_close_grads(out, ref_bidirectional(x, dict(x, A=A_b), "sum"), dict(x, A_b=A_b), torch.float32)


def test_backward_is_deterministic(interpreted):
    x = make_inputs(2, 6, 4, 9, seed=4)
    A_b = -torch.rand(6, 4).requires_grad_()
    grads = []
    for _ in range(2):
        out = interpreted.bidirectional_scan_triton(**x, A_b=A_b)
        grads.append(torch.autograd.grad(out.square().sum(), list(x.values()) + [A_b]))
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_errors_are_explicit(interpreted):
    x = make_inputs(1, 2, 4, 3)
    with pytest.raises(ValueError, match="merge"):
        interpreted.bidirectional_scan_triton(**x, A_b=x["A"], merge="max")
    with pytest.raises(ValueError, match="B"):
        interpreted.selective_scan_triton(x["u"], x["delta"], x["A"], x["B"][:, :2], x["C"])
    with pytest.raises(ValueError, match="initial_state"):
        interpreted.selective_scan_triton(**x, initial_state=torch.zeros(1, 4, 2))
    ok, reason = interpreted.triton_available()
    assert ok and reason


def test_kernel_bench_smoke(interpreted, capsys, tmp_path):
    import csv

    from aum.bench import triton as triton_bench

    assert triton_bench.main(["--batch", "1", "--dim", "4", "--state", "4", "--lengths", "9", "--dtype", "fp32",
                              "--configs", "4:8:4,2:8:1:1", "--warmup", "0", "--repeats", "1",
                              "--out", str(tmp_path / "kernel.csv")]) == 0
    out = capsys.readouterr().out
    assert "best bi_fwdbwd at L=9" in out and interpreted.KERNEL_CONFIG.chunk == 8
    rows = list(csv.DictReader((tmp_path / "kernel.csv").open()))
    assert [(r["case"], r["config"]) for r in rows] == [(c, k) for k in ("4:8:4", "2:8:1:1")
                                                        for c in ("fwd1", "fwd1_2x", "bi_fwd", "bi_fwdbwd")]
    assert all(float(r["ms"]) > 0 and r["length"] == "9" and r["dtype"] == "float32" for r in rows)


@pytest.mark.skipif(IN_INTERPRETER, reason="compiles the real kernels, which the interpreter replaces")
@pytest.mark.filterwarnings("ignore:TRITON_DEFAULT_FP_FUSION")
def test_kernels_compile_for_hopper_without_a_gpu():
    """Catches what the interpreter cannot: Triton front-end rules and lowering of the real kernels (sm_90)."""
    pytest.importorskip("triton.backends.nvidia.compiler")
    from aum.bench import triton as triton_bench

    rows = triton_bench.compile_report([(4, 32, 4, 8)], arch=90, dtype="bf16")
    assert [r["kernel"] for r in rows] == ["fwd", "bwd"]
    rows = triton_bench.compile_report([(4, 32, 4, 8)], arch=90, dtype="bf16", stateful=True)  # one direction
    assert [r["kernel"] for r in rows] == ["fwd", "bwd"]


def test_unavailable_without_cuda_or_interpreter(monkeypatch):
    from aum.ops import triton_scan

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ok, reason = triton_scan.triton_available()
    assert not ok and "CUDA" in reason


@pytest.mark.skipif(not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1",
                    reason="needs a CUDA device (compiled kernels)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_bigger_shapes(dtype):
    from aum.ops import triton_scan

    x = make_inputs(2, 64, 16, 1000, dtype, device="cuda", seed=5)
    out = triton_scan.selective_scan_triton(**x, delta_softplus=True, reverse=True)
    assert_close_grads(out, selective_scan_ref(**x, delta_softplus=True, reverse=True), x, dtype, grad_scale=5.0)
    A_b = (-torch.rand(64, 16, device="cuda") - 0.2).requires_grad_()
    out = triton_scan.bidirectional_scan_triton(**x, A_b=A_b)
    assert_close_grads(out, ref_bidirectional(x, dict(x, A=A_b), "sum"), dict(x, A_b=A_b), dtype, grad_scale=5.0)


@pytest.mark.skipif(not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1",
                    reason="needs a CUDA device (compiled kernels)")
def test_cuda_state_carried_over_two_calls():
    from aum.ops import triton_scan

    # 2048 + 2048 vs one reference call of 4096 (one direction: the interpreter cases cover reverse too)
    x = make_inputs(2, 64, 16, 4096, device="cuda", seed=8)
    y, last = scan_in_two_pieces(triton_scan.selective_scan_triton, x, 2048, False, delta_softplus=True)
    ref, ref_last = selective_scan_ref(**x, delta_softplus=True, return_last_state=True)
    assert_close_grads(flat(y, last), flat(ref, ref_last), x, torch.float32, grad_scale=5.0)


@pytest.mark.skipif(not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1",
                    reason="needs a CUDA device (compiled kernels)")
def test_cuda_long_sequence_values():
    from aum.ops import triton_scan

    length = 65536 + 3  # past 64k, odd: int64 offsets, thousands of chunks
    x = make_inputs(1, 4, 16, length, device="cuda", seed=7)
    A_b = -torch.rand(4, 16, device="cuda") - 0.2
    with torch.no_grad():
        out = triton_scan.bidirectional_scan_triton(**x, A_b=A_b, merge="mean")
        ref = ref_bidirectional(x, dict(x, A=A_b), "mean")
    torch.testing.assert_close(out, ref, rtol=TOL[torch.float32][0], atol=TOL[torch.float32][1])
