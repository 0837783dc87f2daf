"""A forward-only Mamba mixer run chunk by chunk with its carried conv and scan state equals one pass over the
whole sequence: values and gradients, on the torch path (with gradients) and the compiled CPU path (without), for
chunks shorter than the conv; the bidirectional mixers refuse in one line."""

from __future__ import annotations

import pytest
import torch

from aum.errors import ConfigError
from aum.models.mamba import MambaMixer

SPLITS = [(1, 16), (2, 1, 14), (5, 12), (17,)]  # 17 tokens; chunks of 1 and 2 are shorter than the conv's 3 past taps


def mixer(backend: str) -> MambaMixer:
    torch.manual_seed(0)
    return MambaMixer(12, d_state=5, d_conv=4, expand=2, mixer_type="none", scan_backend=backend)


def chunked(m: MambaMixer, hidden: torch.Tensor, split: tuple[int, ...]) -> torch.Tensor:
    outs, state = [], None
    for piece in hidden.split(list(split), dim=1):
        out, state = m.forward_with_state(piece, state)
        outs.append(out)
    return torch.cat(outs, dim=1)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("backend", ["ref", "cpu", "numba"])
def test_chunks_with_carried_state_equal_one_pass(backend, split):
    if backend == "numba":
        pytest.importorskip("numba")
    m = mixer(backend)
    hidden = torch.randn(2, 17, 12, requires_grad=True)
    whole = m(hidden)
    grads = torch.autograd.grad(whole.square().sum(), [hidden, *m.parameters()])
    pieces = chunked(m, hidden, split)
    torch.testing.assert_close(pieces, whole, rtol=1e-4, atol=1e-5)
    for got, want in zip(torch.autograd.grad(pieces.square().sum(), [hidden, *m.parameters()]), grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("split", SPLITS)
def test_compiled_path_without_gradients_equals_one_pass(split):
    pytest.importorskip("numba")
    m = mixer("numba")
    hidden = torch.randn(2, 17, 12)
    with torch.no_grad():
        torch.testing.assert_close(chunked(m, hidden, split), m(hidden), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mixer_type", ["v1", "v2"])
def test_bidirectional_mixers_have_no_state_to_carry(mixer_type):
    m = MambaMixer(12, d_state=5, mixer_type=mixer_type, scan_backend="ref")
    with pytest.raises(ConfigError, match=f"a '{mixer_type}' mixer also reads the sequence backwards"):
        m.forward_with_state(torch.randn(1, 3, 12))
