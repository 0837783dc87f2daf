"""The compiled conv+silu against its torch twin, the mixer's inference path against its autograd path, and the
CPU thread policy (defaults, AUM_THREADS, a bad value)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aum.models.mamba import MambaMixer, anticausal_conv, causal_conv
from aum.ops.threads import configure_threads

pytest.importorskip("numba")
conv_numba = pytest.importorskip("aum.ops.conv_numba")


@pytest.mark.parametrize("length", [1, 3, 4, 9, 37])
@pytest.mark.parametrize("anticausal", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_silu_matches_torch(length, anticausal, bias):
    torch.manual_seed(length)
    conv = torch.nn.Conv1d(5, 5, 4, groups=5, padding=3, bias=bias)
    x = torch.randn(2, 10, length)[:, 2:7]  # a channel slice, as the mixer passes it
    expected = F.silu(anticausal_conv(x, conv) if anticausal else causal_conv(x, conv))
    torch.testing.assert_close(conv_numba.causal_conv_silu(x, conv.weight, conv.bias, anticausal), expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mixer_type", ["v1", "v2", "none"])
def test_mixer_inference_path_matches_autograd_path(mixer_type):
    torch.manual_seed(0)
    mixer = MambaMixer(16, d_state=4, mixer_type=mixer_type)
    x = torch.randn(2, 13, 16)
    with torch.no_grad():
        fast = mixer(x)  # compiled conv + numba scan
    reference = MambaMixer(16, d_state=4, mixer_type=mixer_type, scan_backend="ref")
    reference.load_state_dict(mixer.state_dict())
    torch.testing.assert_close(fast, reference(x).detach(), rtol=1e-4, atol=1e-5)


def test_thread_policy_defaults_and_override(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("AUM_THREADS", raising=False)
        torch_threads, numba_threads = configure_threads()
        assert torch_threads == 1 and numba_threads >= 1
        monkeypatch.setenv("AUM_THREADS", "1")
        assert configure_threads() == (1, 1)
        monkeypatch.setenv("AUM_THREADS", "many")
        with pytest.raises(ValueError, match="AUM_THREADS"):
            configure_threads()
    finally:
        torch.set_num_threads(before)
