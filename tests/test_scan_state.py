"""Selective scans that carry state across chunks (`initial_state`, `return_last_state`), on every CPU backend:
scanning the time chunks one after the other from the previous chunk's last state equals one call (values, last
state and gradients, also through the carried state); with a random initial state every backend equals the
reference (values, last state, gradients w.r.t. every input and the initial state); reverse scans carry the state
from the future side; the dispatcher checks the state's shape and refuses mamba_ssm (no initial state) in one line.
Sizes stay odd and small; the cpu and numba backends run with 5-step chunks so that chunk borders are crossed."""

from __future__ import annotations

import functools
import importlib
import sys
import types

import pytest
import torch

import aum.ops.dispatch as dispatch
import aum.ops.scan_cpu as scan_cpu
from aum.errors import ConfigError
from aum.ops import selective_scan, selective_scan_ref
from test_scan import FP32_TOL, OPTIONS, make_inputs

HAS_NUMBA = dispatch.backend_status("numba")[0]
BACKENDS = ["ref", "cpu", "loop", "parallel",
            pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed"))]
FAST_BACKENDS = BACKENDS[1:]
TIME_NAMES = ("u", "delta", "B", "C", "z")  # inputs with a time axis, cut into chunks
SPLITS = [(1,), (3, 4), (1, 36), (13, 24), (37,), (30, 1, 39)]  # chunk lengths: L = 1, 7, 37, 37, 37, 70


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """5-step chunks in the cpu and numba backends: a state crosses chunk borders inside each call too."""
    monkeypatch.setattr(scan_cpu, "CHUNK_TARGET_ELEMENTS", 1)
    monkeypatch.setattr(scan_cpu, "MIN_CHUNK", 5)
    if HAS_NUMBA:
        monkeypatch.setattr(importlib.import_module("aum.ops.scan_numba"), "CHECKPOINT_CHUNK", 5)


def state_inputs(length, option="all", seed=0, dtype=torch.float32):
    """make_inputs (B=2, D=5, N=3) plus a random initial state; raw Δ positive when softplus is off."""
    inputs = make_inputs(2, 5, 3, length, dtype=dtype, seed=seed, **OPTIONS[option])
    if option == "bare":  # no softplus: raw Δ must be positive, else exp(ΔA) > 1 and the state explodes
        inputs["delta"] = (inputs["delta"].detach().abs() * 0.3).requires_grad_()
    gen = torch.Generator().manual_seed(seed + 100)
    inputs["initial_state"] = torch.randn(2, 5, 3, generator=gen).to(dtype).requires_grad_()
    return inputs


def one_call(scan, inputs, **kwargs):
    return scan(**inputs, return_last_state=True, **kwargs)


def chunked(scan, inputs, splits, reverse=False, **kwargs):
    """The chunks of `splits` scanned in scan order (last chunk first if reverse), each from the previous one's
    last state; returns (y in time order, the last state)."""
    bounds = torch.tensor((0, *splits)).cumsum(0).tolist()
    pieces = [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]
    state, ys = inputs["initial_state"], {}
    for piece in reversed(pieces) if reverse else pieces:
        part = {k: v[..., piece] if k in TIME_NAMES and v is not None else v for k, v in inputs.items()}
        ys[piece.start], state = scan(**{**part, "initial_state": state}, return_last_state=True, reverse=reverse,
                                      **kwargs)
    return torch.cat([ys[start] for start in sorted(ys)], dim=-1), state


def with_grads(run, inputs, seed=1):
    """(y, last state) of run(inputs) and the gradients of <y, c_y> + <last, c_h> (fixed random cotangents) w.r.t.
    every tensor input, the initial state included (zeros for one the loss does not reach)."""
    fresh = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in inputs.items()}
    y, last = run(fresh)
    gen = torch.Generator().manual_seed(seed)
    loss = (y * torch.randn(y.shape, generator=gen).to(y.dtype)).sum()
    loss = loss + (last * torch.randn(last.shape, generator=gen).to(last.dtype)).sum()
    loss.backward()
    grads = {k: torch.zeros_like(v) if v.grad is None else v.grad for k, v in fresh.items() if v is not None}
    return y.detach(), last.detach(), grads  # an input the loss does not reach: zeros, whichever way it is said


def assert_same_with_state(expected, actual, tol=FP32_TOL):
    (y_e, last_e, grads_e), (y_a, last_a, grads_a) = expected, actual
    torch.testing.assert_close(y_a, y_e, **tol, msg=lambda m: f"y: {m}")
    torch.testing.assert_close(last_a, last_e, **tol, msg=lambda m: f"last state: {m}")
    assert grads_a.keys() == grads_e.keys()
    for name in grads_e:
        torch.testing.assert_close(grads_a[name], grads_e[name], **tol, msg=lambda m, n=name: f"grad {n}: {m}")


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("splits", SPLITS, ids=lambda s: "+".join(map(str, s)))
@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_with_carried_state_equal_one_call(backend, splits, option, reverse):
    inputs = state_inputs(sum(splits), option, seed=len(splits))
    scan = functools.partial(selective_scan, backend=backend, delta_softplus=option != "bare")
    whole = with_grads(lambda x: one_call(scan, x, reverse=reverse), inputs)
    assert_same_with_state(whole, with_grads(lambda x: chunked(scan, x, splits, reverse), inputs))


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("length", [1, 7, 37, 70])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_backend_with_initial_state_matches_reference(backend, length, option, reverse):
    inputs = state_inputs(length, option, seed=length)
    kwargs = dict(delta_softplus=option != "bare", reverse=reverse)
    scan = functools.partial(selective_scan, backend=backend)
    assert_same_with_state(with_grads(lambda x: one_call(selective_scan_ref, x, **kwargs), inputs),
                           with_grads(lambda x: one_call(scan, x, **kwargs), inputs))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_unused_last_state_and_zero_initial_state_are_the_plain_scan(backend):
    """return_last_state alone, and a zero initial state, give the scan without state arguments (gradients too)."""
    inputs = {k: v for k, v in state_inputs(13).items() if k != "initial_state"}
    scan = functools.partial(selective_scan, backend=backend, delta_softplus=True)
    plain = with_grads(lambda x: (scan(**x), torch.zeros(1)), inputs)
    with_last = with_grads(lambda x: (scan(**x, return_last_state=True)[0], torch.zeros(1)), inputs)
    zeros = with_grads(lambda x: (scan(**x, initial_state=torch.zeros(2, 5, 3)), torch.zeros(1)), inputs)
    assert_same_with_state(plain, with_last)
    assert_same_with_state(plain, zeros)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_last_state_alone_gets_gradients(backend):
    """A loss of the last state only (y unused: no output gradient) still reaches every input."""
    inputs = state_inputs(11)
    scan = functools.partial(selective_scan, backend=backend)
    expected = with_grads(lambda x: (torch.zeros(1), one_call(selective_scan_ref, x, delta_softplus=True)[1]), inputs)
    assert_same_with_state(expected, with_grads(lambda x: (torch.zeros(1), one_call(scan, x, delta_softplus=True)[1]),
                                                inputs))


def gradcheck_scan(scan, length):
    inputs = state_inputs(length, dtype=torch.float64)
    names = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state")

    def run(*args):  # (y, last state) of a forward and of a reverse scan
        kwargs = dict(zip(names, args))
        forward = scan(**kwargs, delta_softplus=True, return_last_state=True)
        return (*forward, *scan(**kwargs, delta_softplus=True, reverse=True, return_last_state=True))

    return torch.autograd.gradcheck(run, [inputs[name] for name in names])


def test_reference_with_state_gradcheck_float64():
    assert gradcheck_scan(selective_scan_ref, 4)


@pytest.mark.parametrize("backend", ["cpu", pytest.param("numba", marks=BACKENDS[-1].marks)])
def test_custom_backward_with_state_gradcheck_float64(backend):
    """The two hand-written backwards (cpu, numba), across 5-step chunk borders."""
    assert gradcheck_scan(functools.partial(selective_scan, backend=backend), 12)


def test_initial_state_of_the_wrong_shape_is_one_line():
    inputs = {k: v.detach() for k, v in state_inputs(7).items()}
    inputs["initial_state"] = inputs["initial_state"][:, :, :2]
    with pytest.raises(ConfigError, match=r"initial_state has shape \(2, 5, 2\), expected \(2, 5, 3\)") as error:
        selective_scan(**inputs)
    assert "\n" not in str(error.value)


@pytest.fixture
def mamba_ssm_importable(monkeypatch):
    """The dispatcher believes mamba_ssm is importable (its kernel itself is never reached here)."""
    dispatch.backend_status.cache_clear()
    monkeypatch.setitem(dispatch._PROBES, "mamba_ssm", lambda: (True, ""))
    yield
    dispatch.backend_status.cache_clear()


def test_mamba_ssm_refuses_an_initial_state_in_one_line(mamba_ssm_importable):
    inputs = {k: v.detach() for k, v in state_inputs(7).items()}
    with pytest.raises(ConfigError, match="mamba_ssm's kernel takes no initial state") as error:
        selective_scan(**inputs, backend="mamba_ssm")
    message = str(error.value)
    assert "\n" not in message and all(name in message for name in ("ref", "cpu", "numba", "triton"))


def test_triton_gets_the_state_keywords(monkeypatch):
    """The dispatcher passes initial_state / return_last_state to `selective_scan_triton` by keyword, and no state
    keywords at all to a call without state."""
    calls = []
    fake = types.SimpleNamespace(selective_scan_triton=lambda *args, **kwargs: calls.append(kwargs))
    dispatch.backend_status.cache_clear()
    monkeypatch.setitem(sys.modules, "aum.ops.triton_scan", fake)
    monkeypatch.setitem(dispatch._PROBES, "triton", lambda: (True, ""))
    try:
        inputs = {k: v.detach() for k, v in state_inputs(7).items()}
        selective_scan(**inputs, return_last_state=True, backend="triton")
        selective_scan(**{k: v for k, v in inputs.items() if k != "initial_state"}, backend="triton")
    finally:
        dispatch.backend_status.cache_clear()
    assert calls[0].keys() == {"initial_state", "return_last_state"} and calls[0]["return_last_state"] is True
    assert calls[0]["initial_state"] is inputs["initial_state"] and calls[1] == {}
