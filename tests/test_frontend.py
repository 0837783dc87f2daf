"""Length, normalisation, the `Frontend` (waveform → model input) and `dataset_stats`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aum.audio import NORM_STATS, Frontend, dataset_stats, fbank, normalize, pad_or_crop


def test_presets_hold_the_papers_statistics():
    assert NORM_STATS["audioset"] == (-4.2677393, 4.5689974)
    assert NORM_STATS["esc50"] == (-6.6268077, 5.358466)
    assert NORM_STATS["speechcommands"] == (-6.845978, 5.5654526)
    assert NORM_STATS["vggsound"] == (-5.0767093, 4.4533687)
    assert NORM_STATS["voxceleb"] == (-3.7614744, 4.2011642)
    sc = Frontend.preset("speechcommands", target_frames=128)
    assert (sc.mean, sc.std, sc.target_frames) == (-6.845978, 5.5654526, 128)
    with pytest.raises(ValueError, match="unknown normalisation preset 'librispeech'"):
        Frontend.preset("librispeech")


def test_pad_or_crop_pads_zeros_and_cuts_the_end():
    feats = torch.randn(2, 7, 5)
    padded = pad_or_crop(feats, 10)
    assert padded.shape == (2, 10, 5) and torch.equal(padded[:, :7], feats) and not padded[:, 7:].any()
    assert torch.equal(pad_or_crop(feats, 3), feats[:, :3])
    assert torch.equal(pad_or_crop(feats, 7), feats)
    with pytest.raises(ValueError, match="target_frames"):
        pad_or_crop(feats, 0)


def test_normalize_is_ast_formula():
    x = torch.tensor([-4.2677393, 0.0])
    torch.testing.assert_close(normalize(x, -4.2677393, 4.5689974), torch.tensor([0.0, 4.2677393 / 9.1379948]))


def test_frontend_equals_fbank_then_pad_then_normalize():
    wave = 0.1 * torch.randn(16000 * 2 + 77)
    frontend = Frontend.preset("esc50", target_frames=300)
    out = frontend(wave)
    assert out.shape == (300, 128) and out.dtype == torch.float32
    expected = normalize(pad_or_crop(fbank(wave), 300), *NORM_STATS["esc50"])
    torch.testing.assert_close(out, expected)
    assert torch.equal(frontend.features(wave), pad_or_crop(fbank(wave), 300))


def test_frontend_resamples_when_told_the_rate():
    frontend = Frontend(target_frames=100)
    wave8k = torch.from_numpy(np.sin(np.arange(8000) * 0.3).astype(np.float32))
    assert frontend(wave8k, sample_rate=8000).shape == (100, 128)
    assert frontend(wave8k.numpy()).shape == (100, 128)  # numpy input is accepted


def test_batch_matches_single_calls_for_equal_and_ragged_lengths():
    frontend = Frontend(target_frames=64)
    equal = 0.1 * torch.randn(3, 8000)
    torch.testing.assert_close(frontend.batch(equal), torch.stack([frontend(w) for w in equal]), rtol=0, atol=1e-5)
    ragged = [0.1 * torch.randn(n) for n in (4000, 9001, 12000)]
    out = frontend.batch(ragged)
    assert out.shape == (3, 64, 128)
    torch.testing.assert_close(out[1], frontend(ragged[1]))


def test_dict_round_trip_and_cache_key():
    frontend = Frontend.preset("vggsound", target_frames=512)
    assert Frontend.from_dict(frontend.to_dict()) == frontend
    assert frontend.cache_key() == Frontend.from_dict(frontend.to_dict()).cache_key()
    assert frontend.cache_key() != Frontend.preset("vggsound", target_frames=1024).cache_key()
    assert len(frontend.cache_key()) == 16
    with pytest.raises(ValueError, match="unknown frontend field"):
        Frontend.from_dict({**frontend.to_dict(), "hop": 3})


@pytest.mark.parametrize("bad", [{"std": 0.0}, {"mean": math.nan}, {"target_frames": 0}, {"sample_rate": -1}])
def test_invalid_frontend_is_refused(bad):
    with pytest.raises(ValueError, match="frontend"):
        Frontend(**bad)


def test_dataset_stats_pools_exactly():
    parts = [torch.randn(5, 7) * 3 - 2, torch.randn(11, 7), torch.zeros(0, 7), torch.randn(2, 3, 7) + 5]
    values = torch.cat([p.flatten() for p in parts]).double()
    mean, std = dataset_stats(iter(parts))
    assert mean == pytest.approx(values.mean().item(), abs=1e-12)
    assert std == pytest.approx(values.std().item(), abs=1e-12)
    with pytest.raises(ValueError, match="at least two"):
        dataset_stats([])
