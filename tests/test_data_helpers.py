"""Helpers shared by the tests/test_data_*.py modules: tiny audio files and label CSVs in real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_tone(path: Path, freq: float = 440.0, seconds: float = 0.5, sample_rate: int = 16000) -> Path:
    """A quiet sine wave as 16-bit WAV (or FLAC by suffix); parent folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sample_rate)
    return path


def write_label_csv(path: Path, mids: list[str]) -> Path:
    rows = "".join(f'{i},{mid},"name {i}"\n' for i, mid in enumerate(mids))
    path.write_text("index,mid,display_name\n" + rows)
    return path


def test_write_tone(tmp_path):
    data, rate = sf.read(write_tone(tmp_path / "a" / "x.wav", seconds=0.25))
    assert rate == 16000 and data.shape == (4000,)
