"""ClipDataset: bad clips, collate, augmentations (shapes, determinism), feature cache, loader seeding."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from aum.audio import Frontend, load_audio
from aum.data import AugmentConfig, ClipDataset, Example, build_dataset, collate, make_loader, set_epoch
from aum.data.augment import loud_span, mix_waveforms, shift_inside, spec_augment, time_roll
from aum.data.readers import JsonData
from test_data_helpers import write_label_csv, write_tone

FRONTEND = Frontend(target_frames=48, num_mel_bins=32)


def tone_examples(tmp_path, n=4):
    return [Example(str(write_tone(tmp_path / f"c{i}.wav", 200.0 * (i + 1), seconds=0.4)), [i % 2]) for i in range(n)]


def test_missing_and_corrupt_clips_are_skipped_and_counted(tmp_path, caplog):
    write_label_csv(tmp_path / "class_labels_indices.csv", ["/m/a", "/m/b"])
    write_tone(tmp_path / "good.wav")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF not really a wav file")
    entries = [{"wav": name, "labels": "/m/a"} for name in ("good.wav", "missing.wav", "corrupt.wav")]
    (tmp_path / "train.json").write_text(json.dumps({"data": entries}))
    ds = build_dataset(JsonData(root=str(tmp_path), train="train.json"), "train", FRONTEND)
    with caplog.at_level(logging.WARNING, logger="aum.data.dataset"):
        items = [ds[i] for i in range(3)] + [ds[1]]  # a second read of a bad clip logs nothing new
    assert items[0]["x"].shape == (48, 32) and items[1] is None and items[2] is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "missing.wav" in lines[0] and "corrupt.wav" in lines[1]
    assert all("\n" not in line for line in lines)
    assert ds.bad_clips == 3  # one count per failed load
    batch = collate(items)
    assert batch["x"].shape == (1, 48, 32) and batch["y"].tolist() == [[1.0, 0.0]] and batch["index"].tolist() == [0]
    assert collate([None, None]) is None


def test_item_shapes_and_targets(tmp_path):
    ds = ClipDataset([Example(str(write_tone(tmp_path / "a.wav")), [0, 2])], 3, FRONTEND, multilabel=True)
    item = ds[0]
    assert item["x"].dtype == torch.float32 and item["x"].shape == (48, 32)
    assert item["y"].tolist() == [1.0, 0.0, 1.0] and item["index"] == 0
    assert torch.allclose(item["x"], FRONTEND(load_audio(tmp_path / "a.wav")))


def test_augmentation_deterministic_per_seed_epoch_index(tmp_path):
    augment = AugmentConfig(mixup=1.0, freqm=8, timem=10, noise=1.0, spec_noise=0.1, roll=5)
    make = lambda seed: ClipDataset(tone_examples(tmp_path), 2, FRONTEND, False, augment=augment, seed=seed)
    a, b = make(0), make(0)
    first, again = a[1], b[1]
    assert torch.equal(first["x"], again["x"]) and torch.equal(first["y"], again["y"])
    assert first["x"].shape == (48, 32) and torch.isclose(first["y"].sum(), torch.tensor(1.0))
    a.set_epoch(1)
    assert not torch.equal(a[1]["x"], first["x"])  # a new epoch draws new augmentations
    assert not torch.equal(make(1)[1]["x"], first["x"])


def test_mixup_mixes_label_with_beta_lambda(tmp_path):
    ds = ClipDataset(tone_examples(tmp_path, 2), 2, FRONTEND, False, augment=AugmentConfig(mixup=1.0))
    lams = []
    for epoch in range(30):
        ds.set_epoch(epoch)
        lams.append(ds[0]["y"][0].item())
    mixed = [lam for lam in lams if lam < 1.0]  # the partner may be the same class
    assert mixed and all(0.15 < lam < 0.85 for lam in mixed)  # Beta(10, 10) stays near 0.5
    a, b = torch.ones(10), torch.arange(6.0)
    assert mix_waveforms(a, b, 0.5).shape == (10,)


def test_spec_augment_and_roll():
    fb = torch.randn(100, 64)
    gen = lambda: torch.Generator().manual_seed(3)
    out = spec_augment(fb, freqm=20, timem=30, fill=9.0, generator=gen())
    assert out.shape == fb.shape and torch.equal(out, spec_augment(fb, 20, 30, 9.0, gen()))
    masked_cols = (out == 9.0).all(dim=0).sum().item()
    masked_rows = (out == 9.0).all(dim=1).sum().item()
    assert masked_cols < 20 and masked_rows < 30 and (out == 9.0).any()
    rolled = time_roll(fb, 10, gen())
    shift = next(s for s in range(-10, 10) if torch.equal(torch.roll(fb, s, 0), rolled))
    assert -10 <= shift < 10


def _burst(start: int, end: int, n: int = 16000) -> torch.Tensor:
    wav = 0.001 * torch.randn(n, generator=torch.Generator().manual_seed(1))
    wav[start:end] += 0.5 * torch.sin(torch.arange(end - start) * 0.3)
    return wav


def test_shift_moves_the_sound_but_keeps_it_inside_what_the_model_sees():
    wav = _burst(4000, 6400)
    assert loud_span(wav) == (4000, 6400)
    moves = set()
    wav[5000] = 7.0  # a marker: where it lands tells the move
    for seed in range(300):
        out = shift_inside(wav, 16000, 15600, torch.Generator().manual_seed(seed))
        move = int(out.argmax()) - 5000
        assert torch.equal(torch.roll(wav, move), out)
        assert -4000 <= move <= 15600 - 6400  # the sound (4000-6400) stays in the first 15600 samples
        moves.add(move // 1600)
    assert moves == set(range(-3, 6))  # anywhere from the clip's start to the visible end, 0.1 s bins
    small = [shift_inside(wav, 800, 15600, torch.Generator().manual_seed(s)) for s in range(50)]
    assert all(abs(int(x.argmax()) - 5000) <= 800 for x in small) and len({int(x.argmax()) for x in small}) > 10
    late = _burst(14880, 15840)  # partly in the samples the model never sees: always pulled inside
    late[15000] = 7.0
    assert all(int(shift_inside(late, 16000, 15600, torch.Generator().manual_seed(s)).argmax()) - 15000 <= -240
               for s in range(20))
    for cut in (_burst(0, 3000), _burst(13000, 16000)):  # a sound cut by the edge stays where it is
        assert torch.equal(shift_inside(cut, 16000, 15600, torch.Generator().manual_seed(0)), cut)
    frontend = Frontend(target_frames=96, num_mel_bins=32)
    assert frontend.samples_of() == 95 * 160 + 400 and frontend.samples_of(1) == 400
    with pytest.raises(Exception, match="augment.shift=-1: must be >= 0"):
        AugmentConfig(shift=-1)
    assert AugmentConfig(shift=0.5).waveform_level


def test_noise_files_are_used(tmp_path):
    noise = write_tone(tmp_path / "noise" / "hum.wav", 50.0, seconds=2.0)
    cfg = AugmentConfig(noise=1.0, noise_snr=(0.0, 0.0), noise_files=[str(noise)])
    ds = ClipDataset(tone_examples(tmp_path, 1), 2, FRONTEND, False, augment=cfg)
    clean = ClipDataset(ds.examples, 2, FRONTEND, False)
    assert not torch.allclose(ds[0]["x"], clean[0]["x"])
    assert len(ds.augmenter.noises()) == 1


def test_feature_cache_hit_equals_fresh(tmp_path, monkeypatch):
    examples = tone_examples(tmp_path, 2)
    cached = ClipDataset(examples, 2, FRONTEND, False, cache_dir=tmp_path / "cache")
    fresh = ClipDataset(examples, 2, FRONTEND, False)
    first = cached[0]["x"]
    entries = list((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 1
    assert torch.equal(first, fresh[0]["x"])
    with monkeypatch.context() as patch:  # a hit never decodes the audio
        patch.setattr("aum.data.dataset.load_audio", lambda *a, **k: pytest.fail("cache missed"))
        assert torch.equal(cached[0]["x"], first)
    other = ClipDataset(examples, 2, Frontend(target_frames=40, num_mel_bins=32), False, cache_dir=tmp_path / "cache")
    assert other[0]["x"].shape == (40, 32) and len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    mixing = ClipDataset(examples, 2, FRONTEND, False, augment=AugmentConfig(mixup=1.0), cache_dir=tmp_path / "cache")
    mixing[1]  # waveform augmentation: the cache is bypassed, nothing new written
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2


def test_cache_rejects_a_changed_file(tmp_path):
    path = write_tone(tmp_path / "a.wav", 300.0)
    ds = ClipDataset([Example(str(path), [0])], 1, FRONTEND, False, cache_dir=tmp_path / "cache")
    before = ds[0]["x"]
    write_tone(path, 3000.0, seconds=0.3)
    assert not torch.equal(ds[0]["x"], before)


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_reproducible_whatever_the_workers(tmp_path, workers):
    augment = AugmentConfig(mixup=0.5, freqm=8, timem=8)
    examples = tone_examples(tmp_path, 6) + [Example(str(tmp_path / "missing.wav"), [0])]
    ds = ClipDataset(examples, 2, FRONTEND, False, augment=augment)
    reference = ClipDataset(examples, 2, FRONTEND, False, augment=augment)
    loader = make_loader(ds, batch_size=4, shuffle=True, num_workers=workers, seed=7)
    set_epoch(loader, 2)
    batches = list(loader)
    reference.seed, reference.epoch = 7, 2
    order = [int(i) for b in batches for i in b["index"]]
    assert sorted(order) == list(range(6)) and ds.bad_clips == 1  # counted in whichever worker read it
    expected = torch.stack([reference[i]["x"] for i in order])
    assert torch.equal(torch.cat([b["x"] for b in batches]), expected)
