"""The espeak-ng keyword generator on a tiny setting: layout, 1 s at 16 kHz, voices disjoint, deterministic."""

from __future__ import annotations

import csv
import shutil

import pytest
import soundfile as sf

from aum.audio import Frontend
from aum.data import AugmentConfig, build_dataset
from aum.data.readers import SpeechCommandsData
from aum.data.synth import synthesize_speech_commands

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def voice_of(rel: str) -> str:
    return rel.split("/")[1].split("_nohash_")[0]


@needs_espeak
def test_tiny_synthetic_set(tmp_path):
    out = tmp_path / "kw"
    summary = synthesize_speech_commands(out, num_words=2, num_voices=3, per_voice=1, seed=4, jobs=2)
    assert summary["words"] == ["yes", "no"] and summary["clips"] == 6
    assert sorted(p.name for p in out.iterdir()) == ["_background_noise_", "no", "testing_list.txt",
                                                     "validation_list.txt", "voices.csv", "yes"]
    clips = sorted(out.glob("*/*_nohash_*.wav"))
    assert len(clips) == 6
    for clip in clips:
        info = sf.info(clip)
        assert (info.samplerate, info.frames, info.channels) == (16000, 16000, 1)
        assert abs(sf.read(clip)[0]).max() > 0.1  # speech, not silence
    val = (out / "validation_list.txt").read_text().split()
    test = (out / "testing_list.txt").read_text().split()
    train = [f"{c.parent.name}/{c.name}" for c in clips if f"{c.parent.name}/{c.name}" not in val + test]
    voices = [{voice_of(r) for r in rels} for rels in (train, val, test)]
    assert all(len(v) == 1 for v in voices) and len(set.union(*voices)) == 3  # disjoint speakers
    with open(out / "voices.csv") as f:
        table = list(csv.DictReader(f))
    assert sorted(row["split"] for row in table) == ["test", "train", "val"]
    assert len(list((out / "_background_noise_").glob("*.wav"))) >= 3
    ds = build_dataset(SpeechCommandsData(root=str(out)), "train", Frontend(target_frames=100),
                       AugmentConfig(noise=1.0))
    assert len(ds) == 2 and ds.labels == ["no", "yes"] and ds.augmenter.config.noise_files
    again = synthesize_speech_commands(tmp_path / "again", num_words=2, num_voices=3, per_voice=1, seed=4, jobs=1)
    assert again["clips"] == 6
    for clip in clips:
        assert (tmp_path / "again" / clip.relative_to(out)).read_bytes() == clip.read_bytes()


def test_refuses_non_empty_folder_and_missing_espeak(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("keep me")
    if shutil.which("espeak-ng"):
        with pytest.raises(ValueError, match="not empty"):
            synthesize_speech_commands(tmp_path, num_words=1, num_voices=3, per_voice=1)
        with pytest.raises(ValueError, match="not a generated set"):
            synthesize_speech_commands(tmp_path, num_words=1, num_voices=3, per_voice=1, overwrite=True)
    assert (tmp_path / "mine.txt").exists()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        synthesize_speech_commands(tmp_path / "new")
