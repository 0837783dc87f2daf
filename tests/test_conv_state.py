"""The mixer's short depthwise conv with a carried state (`conv_state`, `return_conv_state`): the reference equals
the mixer's causal conv without a state; chunks convolved one after the other from the previous chunk's state equal
one pass (values, state and gradients, chunks shorter than K-1 included); the compiled conv + silu equals silu of
the reference with a state; wrong shapes and an anticausal state are one-line errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aum.errors import ConfigError
from aum.models.mamba import causal_conv
from aum.ops import causal_conv_ref
from test_scan_state import assert_same_with_state, with_grads

SPLITS = [(1,), (2,), (1, 1, 1, 6), (2, 7), (3, 1, 2), (5, 4), (9,), (1, 36), (13, 24)]  # K = 4: K-1 = 3


def conv_inputs(length, seed=0, channels=5, taps=4, dtype=torch.float32):
    """x (2, E, L), weight (E, 1, K), bias (E,) and a random conv state (2, E, K-1), all requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.randn(*shape, generator=gen).to(dtype).requires_grad_()
            for name, shape in (("x", (2, channels, length)), ("weight", (channels, 1, taps)), ("bias", (channels,)),
                                ("conv_state", (2, channels, taps - 1)))}


def chunked_conv(conv, inputs, splits):
    """The chunks of `splits` convolved in order, each from the previous chunk's state; returns (out, state)."""
    state, outs = inputs["conv_state"], []
    for piece in inputs["x"].split(list(splits), dim=-1):
        out, state = conv(piece, inputs["weight"], inputs["bias"], conv_state=state, return_conv_state=True)
        outs.append(out)
    return torch.cat(outs, dim=-1), state


def test_reference_without_state_is_the_mixers_causal_conv():
    inputs = conv_inputs(9)
    conv = torch.nn.Conv1d(5, 5, 4, groups=5, padding=3)
    with torch.no_grad():
        conv.weight.copy_(inputs["weight"])
        conv.bias.copy_(inputs["bias"])
    torch.testing.assert_close(causal_conv_ref(inputs["x"], inputs["weight"], inputs["bias"]),
                               causal_conv(inputs["x"], conv), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("taps", [1, 2, 4])
def test_reference_state_is_the_last_samples_of_state_and_chunk(taps):
    inputs = {k: v.detach() for k, v in conv_inputs(2, taps=taps).items()}
    _, state = causal_conv_ref(**inputs, return_conv_state=True)
    expected = torch.cat([inputs["conv_state"], inputs["x"]], dim=-1)[..., 2:]  # the last K-1 of K-1 + 2 samples
    torch.testing.assert_close(state, expected, rtol=0, atol=0)
    _, from_zeros = causal_conv_ref(inputs["x"], inputs["weight"], None, return_conv_state=True)
    assert from_zeros.shape == (2, 5, taps - 1)


@pytest.mark.parametrize("splits", SPLITS, ids=lambda s: "+".join(map(str, s)))
def test_reference_chunks_with_carried_state_equal_one_pass(splits):
    inputs = conv_inputs(sum(splits), seed=len(splits))
    whole = with_grads(lambda p: causal_conv_ref(**p, return_conv_state=True), inputs)
    parts = with_grads(lambda p: chunked_conv(causal_conv_ref, p, splits), inputs)
    assert_same_with_state(whole, parts, tol=dict(rtol=1e-5, atol=1e-5))


def test_reference_gradcheck_float64():
    inputs = conv_inputs(3, dtype=torch.float64)
    names = ("x", "weight", "bias", "conv_state")

    def run(*args):
        return causal_conv_ref(*args[:3], conv_state=args[3], return_conv_state=True)

    assert torch.autograd.gradcheck(run, [inputs[name] for name in names])


def test_conv_state_of_the_wrong_shape_is_one_line():
    inputs = {k: v.detach() for k, v in conv_inputs(6).items()}
    inputs["conv_state"] = torch.zeros(2, 5, 4)  # K samples instead of K-1
    with pytest.raises(ConfigError, match=r"conv_state has shape \(2, 5, 4\), expected \(2, 5, 3\)") as error:
        causal_conv_ref(**inputs)
    assert "\n" not in str(error.value)


# ---- the compiled conv + silu (numba) ----

def numba_conv():
    pytest.importorskip("numba")
    return pytest.importorskip("aum.ops.conv_numba").causal_conv_silu


def silu_ref(x, weight, bias, conv_state=None, return_conv_state=False):
    out = causal_conv_ref(x, weight, bias, conv_state, return_conv_state=True)
    return (F.silu(out[0]), out[1]) if return_conv_state else F.silu(out[0])


@pytest.mark.parametrize("splits", SPLITS, ids=lambda s: "+".join(map(str, s)))
@pytest.mark.parametrize("bias", [True, False])
def test_numba_with_state_equals_reference(splits, bias):
    compiled = numba_conv()
    inputs = {k: v.detach() for k, v in conv_inputs(sum(splits), seed=sum(splits)).items()}
    if not bias:
        inputs["bias"] = None
    for expected, actual in zip(chunked_conv(silu_ref, inputs, splits), chunked_conv(compiled, inputs, splits)):
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    whole = compiled(inputs["x"], inputs["weight"], inputs["bias"], conv_state=inputs["conv_state"])
    torch.testing.assert_close(whole, silu_ref(**inputs), rtol=1e-5, atol=1e-6)


def test_numba_anticausal_state_is_a_clear_error():
    compiled = numba_conv()
    inputs = {k: v.detach() for k, v in conv_inputs(6).items()}
    with pytest.raises(ConfigError, match="conv_state is for the causal conv only") as error:
        compiled(inputs["x"], inputs["weight"], inputs["bias"], anticausal=True, conv_state=inputs["conv_state"])
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="causal conv only"):
        compiled(inputs["x"], inputs["weight"], inputs["bias"], anticausal=True, return_conv_state=True)


def test_numba_state_of_the_wrong_shape_is_an_error_not_a_wild_read():
    compiled = numba_conv()
    inputs = {k: v.detach() for k, v in conv_inputs(6).items()}
    with pytest.raises(ConfigError, match="conv_state has shape"):
        compiled(inputs["x"], inputs["weight"], inputs["bias"], conv_state=inputs["conv_state"][:1])
