"""Selective scan: the reference (gradcheck), the chunked CPU path against it (values and gradients), reverse and
bidirectional semantics, and the backend dispatcher. Shapes stay tiny; long L only with small B and D."""

from __future__ import annotations

import functools
import logging

import pytest
import torch

import aum.ops.dispatch as dispatch
import aum.ops.scan_cpu as scan_cpu
from aum.ops import (
    bidirectional_scan,
    bidirectional_scan_cpu,
    bidirectional_scan_ref,
    selective_scan,
    selective_scan_cpu,
    selective_scan_ref,
)

FP32_TOL = dict(rtol=6e-4, atol=2e-3)  # mamba_ssm's own fp32 tolerances against its reference
NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def make_inputs(batch, dim, state, length, dtype=torch.float32, seed=0, *, z=True, D=True, bias=True):
    """Scan inputs with realistic ranges (A < 0, moderate Δ), all requiring grad; unused options are None."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=gen) * scale + shift).to(dtype).requires_grad_()

    A = (-torch.rand(dim, state, generator=gen) * 3 - 0.2).to(dtype).requires_grad_()
    return dict(u=rand(batch, dim, length), delta=rand(batch, dim, length, scale=0.5, shift=-1.0), A=A,
                B=rand(batch, state, length), C=rand(batch, state, length), D=rand(dim) if D else None,
                z=rand(batch, dim, length) if z else None, delta_bias=rand(dim, scale=0.3) if bias else None)


def run_with_grads(scan, inputs, seed=1, **kwargs):
    """Output and the gradient of <out, fixed random cotangent> w.r.t. every tensor input."""
    fresh = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in inputs.items()}
    out = scan(**fresh, **kwargs)
    cotangent = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out.dtype)
    out.backward(cotangent)
    return out.detach(), {k: v.grad for k, v in fresh.items() if v is not None}


def assert_same(expected, actual, tol=FP32_TOL):
    out_e, grads_e = expected
    out_a, grads_a = actual
    torch.testing.assert_close(out_a, out_e, **tol)
    assert grads_a.keys() == grads_e.keys()
    for name in grads_e:
        torch.testing.assert_close(grads_a[name], grads_e[name], **tol, msg=lambda m, n=name: f"grad {n}: {m}")


@pytest.fixture
def small_chunks(monkeypatch):
    """Force 5-step chunks so short sequences cross several chunk borders and end on a ragged chunk."""
    monkeypatch.setattr(scan_cpu, "CHUNK_TARGET_ELEMENTS", 1)
    monkeypatch.setattr(scan_cpu, "MIN_CHUNK", 5)


def test_reference_gradcheck_float64():
    inputs = make_inputs(2, 3, 2, 5, dtype=torch.float64)
    order = [inputs[name] for name in NAMES]

    def scan(*args):
        return selective_scan_ref(*args[:5], D=args[5], z=args[6], delta_bias=args[7], delta_softplus=True)

    assert torch.autograd.gradcheck(scan, order)


def test_cpu_gradcheck_float64(small_chunks):
    inputs = make_inputs(1, 2, 3, 12, dtype=torch.float64)
    order = [inputs[name] for name in NAMES]

    def scan(*args):
        return selective_scan_cpu(*args[:5], D=args[5], z=args[6], delta_bias=args[7], delta_softplus=True)

    assert torch.autograd.gradcheck(scan, order)


OPTIONS = {"all": dict(), "bare": dict(z=False, D=False, bias=False), "no_z": dict(z=False)}


@pytest.mark.parametrize("length", [1, 7, 64, 513])
@pytest.mark.parametrize("state", [4, 16])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_cpu_matches_reference(length, state, option):
    batch, dim = (2, 5) if length < 100 else (1, 3)
    inputs = make_inputs(batch, dim, state, length, **OPTIONS[option])
    softplus = option != "bare"
    if not softplus:  # raw Δ must be positive, else exp(ΔA) > 1 and the state explodes
        inputs["delta"] = (inputs["delta"].detach().abs() * 0.3).requires_grad_()
    assert_same(run_with_grads(selective_scan_ref, inputs, delta_softplus=softplus),
                run_with_grads(selective_scan_cpu, inputs, delta_softplus=softplus))


@pytest.mark.parametrize("length", [7, 64])
def test_cpu_matches_reference_across_chunks(small_chunks, length):
    inputs = make_inputs(2, 4, 4, length)
    assert_same(run_with_grads(selective_scan_ref, inputs, delta_softplus=True),
                run_with_grads(selective_scan_cpu, inputs, delta_softplus=True))


def flipped_scan(scan):
    """flip -> scan -> flip along time, the definition of reverse=True."""

    def run(u, delta, A, B, C, D=None, z=None, delta_bias=None, **kwargs):
        flip = [None if x is None else x.flip(-1) for x in (u, delta, B, C, z)]
        return scan(flip[0], flip[1], A, flip[2], flip[3], D, flip[4], delta_bias, **kwargs).flip(-1)

    return run


@pytest.mark.parametrize("scan", [selective_scan_ref, selective_scan_cpu], ids=["ref", "cpu"])
def test_reverse_equals_flip_scan_flip(scan, small_chunks):
    inputs = make_inputs(2, 3, 4, 13)
    assert_same(run_with_grads(flipped_scan(scan), inputs, delta_softplus=True),
                run_with_grads(scan, inputs, delta_softplus=True, reverse=True))


def bidirectional_inputs(style, length=11):
    """Fo-Bi "v1": only A_b differs, merge "sum"; Bi-Bi "v2": every backward tensor differs, merge "mean"."""
    inputs = make_inputs(2, 4, 4, length)
    backward = make_inputs(2, 4, 4, length, seed=7)
    inputs["A_b"] = backward["A"]
    if style == "v2":
        inputs.update({f"{name}_b": backward[name] for name in ("u", "delta", "B", "C", "D", "delta_bias")})
    return inputs, ("sum" if style == "v1" else "mean")


@pytest.mark.parametrize("style", ["v1", "v2"])
def test_bidirectional_cpu_matches_reference(style, small_chunks):
    inputs, merge = bidirectional_inputs(style)
    assert_same(run_with_grads(bidirectional_scan_ref, inputs, merge=merge),
                run_with_grads(bidirectional_scan_cpu, inputs, merge=merge))


@pytest.mark.parametrize("style", ["v1", "v2"])
def test_bidirectional_cpu_matches_reference_length_multiple_of_32(style):
    """L % 32 == 0 takes the padded time-major copy; Fo-Bi builds its second direction by flipping time-major rows."""
    inputs, merge = bidirectional_inputs(style, length=96)
    assert_same(run_with_grads(bidirectional_scan_ref, inputs, merge=merge),
                run_with_grads(bidirectional_scan_cpu, inputs, merge=merge))


def test_bidirectional_reference_is_two_scans():
    inputs, _ = bidirectional_inputs("v1")
    args = {k: v for k, v in inputs.items() if k != "A_b"}
    expected = selective_scan_ref(**args, delta_softplus=True) + selective_scan_ref(
        **{**args, "A": inputs["A_b"]}, delta_softplus=True, reverse=True)
    torch.testing.assert_close(bidirectional_scan_ref(**inputs), expected)


def test_bidirectional_sees_the_future():
    inputs, _ = bidirectional_inputs("v1")
    inputs = {k: v.detach() for k, v in inputs.items()}
    before = bidirectional_scan(**inputs)
    inputs["u"][..., -1] += 1.0
    after = bidirectional_scan(**inputs)
    assert (after[..., 0] - before[..., 0]).abs().max() > 1e-4


def test_bf16_in_bf16_out():
    inputs = {k: v.detach() for k, v in make_inputs(2, 4, 4, 9).items()}
    bf16 = {k: v.bfloat16() if k in ("u", "delta", "B", "C", "z") else v for k, v in inputs.items()}
    out = selective_scan(**bf16, delta_softplus=True)
    assert out.dtype == torch.bfloat16
    expected = selective_scan_ref(**bf16, delta_softplus=True)
    torch.testing.assert_close(out, expected, rtol=3e-2, atol=5e-2)
    both = bidirectional_scan(**bf16, A_b=inputs["A"])
    assert both.dtype == torch.bfloat16


def test_memory_is_linear_in_length():
    """The chunked path never holds (B, D, L, N): its saved state is one (B, D, N) per chunk."""
    inputs = make_inputs(1, 8, 16, 4096, z=False, D=False, bias=False)
    out = selective_scan_cpu(**inputs)
    saved = out.grad_fn.next_functions[0][0]  # permute's input: the chunked scan node
    while type(saved).__name__ != "_ChunkedScanBackward":
        saved = saved.next_functions[0][0]
    states = saved.saved_tensors[-1]
    assert states.numel() * 8 <= 4096 * 8 * 16  # at most an eighth of (D, L, N)


# ---- dispatcher ----

@pytest.fixture
def fresh_dispatch(monkeypatch):
    dispatch.backend_status.cache_clear()
    monkeypatch.setattr(dispatch, "_logged_choices", set())
    yield monkeypatch
    dispatch.backend_status.cache_clear()


def test_unknown_backend_is_a_value_error():
    inputs = {k: v.detach() for k, v in make_inputs(1, 2, 2, 3).items()}
    with pytest.raises(ValueError, match="unknown selective_scan backend"):
        selective_scan(**inputs, backend="nope")


@pytest.mark.parametrize("backend", ["triton", "mamba_ssm"])
def test_explicit_unavailable_backend_raises_with_reason(fresh_dispatch, backend):
    fresh_dispatch.setitem(dispatch._PROBES, backend, lambda: (False, "not installed here"))
    inputs = {k: v.detach() for k, v in make_inputs(1, 2, 2, 3).items()}
    with pytest.raises(RuntimeError, match=f"{backend}.*unavailable: not installed here"):
        selective_scan(**inputs, backend=backend)
    with pytest.raises(RuntimeError, match="not installed here"):
        bidirectional_scan(**inputs, A_b=inputs["A"], backend=backend)


def test_mamba_ssm_backend_matches_its_import():
    importable = dispatch.backend_status("mamba_ssm")[0]
    assert ("mamba_ssm" in dispatch.available_backends()) == importable


def three_auto_scans(caplog) -> list[str]:
    """The dispatcher's 'auto' log lines over three CPU scans."""
    inputs = {k: v.detach() for k, v in make_inputs(1, 2, 2, 3).items()}
    with caplog.at_level(logging.INFO, logger="aum.ops.dispatch"):
        for _ in range(3):
            selective_scan(**inputs)
    return [r.getMessage() for r in caplog.records if "'auto'" in r.getMessage()]


@pytest.mark.skipif(not dispatch.backend_status("numba")[0], reason="numba is not installed")
def test_auto_on_cpu_picks_numba_and_logs_once(fresh_dispatch, caplog):
    assert three_auto_scans(caplog) == ["selective_scan backend 'auto' uses 'numba' for cpu tensors"]


def test_auto_on_cpu_without_numba_picks_cpu_and_says_so_once(fresh_dispatch, caplog):
    fresh_dispatch.setitem(dispatch._PROBES, "numba", lambda: (False, "numba is not installed"))
    fresh_dispatch.setattr(dispatch, "_warn_once", functools.cache(dispatch.log.warning))
    assert three_auto_scans(caplog) == ["selective_scan backend 'auto' uses 'cpu' for cpu tensors"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "numba is not installed" in warnings[0]


def test_auto_on_cuda_prefers_triton_then_mamba_ssm_then_warns(fresh_dispatch, caplog):
    cuda = torch.device("cuda")
    fresh_dispatch.setitem(dispatch._PROBES, "triton", lambda: (True, ""))
    assert dispatch.resolve_backend("auto", cuda) == "triton"
    dispatch.backend_status.cache_clear()
    fresh_dispatch.setitem(dispatch._PROBES, "triton", lambda: (False, "no triton"))
    fresh_dispatch.setitem(dispatch._PROBES, "mamba_ssm", lambda: (True, ""))
    assert dispatch.resolve_backend("auto", cuda) == "mamba_ssm"
    dispatch.backend_status.cache_clear()
    fresh_dispatch.setitem(dispatch._PROBES, "mamba_ssm", lambda: (False, "no mamba_ssm"))
    with caplog.at_level(logging.WARNING, logger="aum.ops.dispatch"):
        assert dispatch.resolve_backend("auto", cuda) == "cpu"
    assert "no triton" in caplog.text and "no mamba_ssm" in caplog.text


def test_shape_errors_are_clear():
    inputs = {k: v.detach() for k, v in make_inputs(1, 2, 2, 3).items()}
    inputs["B"] = inputs["B"][..., :2]
    with pytest.raises(ValueError, match="B has shape"):
        selective_scan(**inputs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_backend_on_cuda_matches_reference():
    inputs = make_inputs(2, 8, 16, 100)
    cuda = {k: v.detach().cuda().requires_grad_() for k, v in inputs.items()}
    out, grads = run_with_grads(selective_scan, cuda, delta_softplus=True)
    expected = run_with_grads(selective_scan_ref, inputs, delta_softplus=True)
    assert_same(expected, (out.cpu(), {k: g.cpu() for k, g in grads.items()}))
