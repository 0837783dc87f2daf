"""The compiled CPU scan ("numba" backend) against the loop reference: values and gradients on odd sizes (L = 1,
odd L, ragged checkpoint chunks, state sizes, z / D / bias present or None, fp32 and fp64), reverse, Fo-Bi / Bi-Bi
bidirectional calls, the O(L) memory bound and the dispatcher's choice. Sizes stay tiny: the kernels compile once
per dtype (cached on disk by numba), and that compile is the cost of this file."""

from __future__ import annotations

import pytest
import torch

from aum.ops import bidirectional_scan_ref, selective_scan_ref
from test_scan import FP32_TOL, OPTIONS, assert_same, bidirectional_inputs, flipped_scan, make_inputs, run_with_grads

scan_numba = pytest.importorskip("aum.ops.scan_numba")
if not scan_numba.numba_status()[0]:
    pytest.skip(scan_numba.numba_status()[1], allow_module_level=True)

FP64_TOL = dict(rtol=1e-9, atol=1e-10)


@pytest.fixture
def small_chunks(monkeypatch):
    """5-step checkpoint chunks: short sequences cross several chunk borders and end on a ragged chunk."""
    monkeypatch.setattr(scan_numba, "CHECKPOINT_CHUNK", 5)


@pytest.mark.parametrize("length", [1, 7, 23, 130])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_numba_matches_reference(length, option, small_chunks):
    inputs = make_inputs(2, 5, 3 if length < 100 else 16, length, **OPTIONS[option])
    softplus = option != "bare"
    if not softplus:  # raw Δ must be positive, else exp(ΔA) > 1 and the state explodes
        inputs["delta"] = (inputs["delta"].detach().abs() * 0.3).requires_grad_()
    assert_same(run_with_grads(selective_scan_ref, inputs, delta_softplus=softplus),
                run_with_grads(scan_numba.selective_scan_numba, inputs, delta_softplus=softplus))


@pytest.mark.parametrize("length", [1, 13])
def test_numba_matches_reference_float64(length, small_chunks):
    inputs = make_inputs(2, 3, 4, length, dtype=torch.float64)
    for reverse in (False, True):
        assert_same(run_with_grads(selective_scan_ref, inputs, delta_softplus=True, reverse=reverse),
                    run_with_grads(scan_numba.selective_scan_numba, inputs, delta_softplus=True, reverse=reverse),
                    tol=FP64_TOL)


def test_numba_gradcheck_float64(small_chunks):
    inputs = make_inputs(1, 2, 3, 12, dtype=torch.float64)
    names = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")

    def scan(*args):
        return scan_numba.selective_scan_numba(*args[:5], D=args[5], z=args[6], delta_bias=args[7],
                                               delta_softplus=True)

    assert torch.autograd.gradcheck(scan, [inputs[name] for name in names])


def test_numba_reverse_equals_flip_scan_flip(small_chunks):
    inputs = make_inputs(2, 3, 4, 13)
    scan = scan_numba.selective_scan_numba
    assert_same(run_with_grads(flipped_scan(scan), inputs, delta_softplus=True),
                run_with_grads(scan, inputs, delta_softplus=True, reverse=True))


@pytest.mark.parametrize("style", ["v1", "v2"])
@pytest.mark.parametrize("length", [1, 11])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_numba_bidirectional_matches_reference(style, length, dtype, small_chunks):
    inputs, merge = bidirectional_inputs(style, length=length)
    inputs = {k: v.detach().to(dtype).requires_grad_() for k, v in inputs.items()}
    tol = FP64_TOL if dtype == torch.float64 else FP32_TOL
    assert_same(run_with_grads(bidirectional_scan_ref, inputs, merge=merge),
                run_with_grads(scan_numba.bidirectional_scan_numba, inputs, merge=merge), tol=tol)


def test_numba_bidirectional_without_gate_or_skip(small_chunks):
    inputs, merge = bidirectional_inputs("v1", length=9)
    inputs.update(z=None, D=None)
    assert_same(run_with_grads(bidirectional_scan_ref, inputs, merge=merge),
                run_with_grads(scan_numba.bidirectional_scan_numba, inputs, merge=merge))


def test_numba_inference_keeps_no_states_and_training_keeps_one_per_chunk():
    inputs = make_inputs(1, 8, 16, 1000, z=True)
    with torch.no_grad():
        scan_numba.selective_scan_numba(**inputs, delta_softplus=True)  # no checkpoints made without grad
    out = scan_numba.selective_scan_numba(**inputs, delta_softplus=True)
    node = out.grad_fn
    while type(node).__name__ != "_NumbaScanBackward":
        node = node.next_functions[0][0]
    checkpoints = node.saved_tensors[-1]  # (directions, B, D, chunks, N)
    assert checkpoints.numel() * scan_numba.CHECKPOINT_CHUNK <= 8 * 16 * (1000 + scan_numba.CHECKPOINT_CHUNK)


def test_numba_backward_without_saved_states_is_an_error():
    inputs = {k: v.detach() for k, v in make_inputs(1, 2, 2, 3).items()}
    with torch.no_grad():
        out = scan_numba.selective_scan_numba(**inputs)
    assert out.grad_fn is None  # nothing to differentiate, nothing saved


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("length", [1, 29])
def test_numba_inference_path_matches_reference(option, length):
    """Without a gradient the kernel applies Δ bias and softplus itself (its vectorised softplus)."""
    inputs = {k: None if v is None else v.detach() for k, v in make_inputs(2, 5, 4, length, **OPTIONS[option]).items()}
    softplus = option != "bare"
    if not softplus:
        inputs["delta"] = inputs["delta"].abs() * 0.3
    inputs["delta"] = inputs["delta"] * 8  # Δ + bias over a wide range: both branches of softplus
    with torch.no_grad():
        for reverse in (False, True):
            torch.testing.assert_close(
                scan_numba.selective_scan_numba(**inputs, delta_softplus=softplus, reverse=reverse),
                selective_scan_ref(**inputs, delta_softplus=softplus, reverse=reverse), **FP32_TOL)
        for style in ("v1", "v2"):
            both, merge = bidirectional_inputs(style, length=length)
            both = {k: v.detach() for k, v in both.items()}
            torch.testing.assert_close(scan_numba.bidirectional_scan_numba(**both, merge=merge),
                                       bidirectional_scan_ref(**both, merge=merge), **FP32_TOL)


def test_fast_exp2_relative_error_is_below_3e_6():
    """The fp32 decays' exp2 (polynomial + exponent bits) against float64, over the range the decays use."""
    import numpy as np
    from numba import njit

    from aum.ops.scan_numba_kernels import _exp2_f32

    @njit
    def exp2_all(y):
        out = np.empty_like(y)
        for i in range(y.size):
            out[i] = _exp2_f32(y[i])
        return out

    y = np.linspace(-60.0, 0.0, 200_001).astype(np.float32)
    error = np.abs(exp2_all(y).astype(np.float64) / np.exp2(y.astype(np.float64)) - 1.0)
    assert error.max() < 3e-6
