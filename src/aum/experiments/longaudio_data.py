"""Data for the long-audio benchmark: the rendered word set, and long recordings built from it.

The espeak-ng word set (`aum.data.synth`) is rendered with KEYWORDS + OTHER_WORDS + UNSEEN_WORDS, several renders
per voice; the training set (`longaudio_trainset`) keeps the keywords and folds OTHER_WORDS, cut keywords, babble
and noise into one `other` class; UNSEEN_WORDS never enter training: they are the unrelated speech of the long
recordings. Long recordings: noise (the synth set's noises, random gains, changing every few seconds),
unseen words at random times, and test-voice keywords (voices never heard in training) at random
non-overlapping times, each as its whole 1 s render; the ground truth is the word inside it (`word_span`),
not the render's window, whose offset of the word is random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from aum.data.augment import loud_span
from aum.data.readers import NOISE_FOLDER
from aum.data.synth import synthesize_speech_commands

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off")
OTHER_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "stop", "go", "zero", "one", "two", "three", "four",
               "five", "six", "seven", "eight", "nine", "backward", "forward", "follow", "learn", "visual")
UNSEEN_WORDS = ("tree", "wow", "marvin", "sheila")
OTHER = "other"
RATE = 16000


def render_raw(out: Path, voices: int = 160, seed: int = 0, per_voice: int = 2, jobs: int = 1) -> Path:
    """Every word x voice x `per_voice` renders (each its own speed/pitch jitter and offset); reused when present."""
    if not (out / "testing_list.txt").is_file():
        synthesize_speech_commands(out, words=list(KEYWORDS + OTHER_WORDS + UNSEEN_WORDS), num_voices=voices,
                                   per_voice=per_voice, seed=seed, jobs=jobs)
    return out


def _noise_bank(raw: Path) -> list[np.ndarray]:
    return [soundfile.read(p, dtype="float32")[0] for p in sorted((raw / NOISE_FOLDER).glob("*.wav"))]


SPLIT_LISTS = {"test": "testing_list.txt", "val": "validation_list.txt"}


def split_clips(raw: Path, words, split: str = "test") -> list[tuple[str, Path]]:
    """(word, path) of the clips of `words` by the voices of `split` ("test" or "val")."""
    return [(rel.split("/")[0], raw / rel) for rel in (raw / SPLIT_LISTS[split]).read_text().split()
            if rel.split("/")[0] in words]


def word_span(clip: np.ndarray) -> tuple[int, int]:
    """(start, end) samples of the word in a rendered clip (`aum.data.augment.loud_span`: 10 ms frames above 1 % of
    the loudest frame's RMS and twice the clip's noise floor, so the light white noise around the word in its 1 s
    window is not counted as speech). 1 % (-40 dB) keeps the weak final consonants (the /f/ of "off", the /p/
    release of "up": -26 to -40 dB under the vowel); at 5 % their last 30-130 ms fell outside the span, and
    stream crops cut them off."""
    return loud_span(clip)


def _noise_bed(noises: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of background: noise types and gains changing every 2-6 s."""
    out, pos = np.zeros(n, np.float32), 0
    while pos < n:
        seg = min(n - pos, int(rng.uniform(2, 6) * RATE))
        noise = noises[int(rng.integers(len(noises)))]
        start = int(rng.integers(0, noise.size - seg)) if noise.size > seg else 0
        piece = np.resize(noise[start:], seg)
        out[pos:pos + seg] = piece * float(rng.uniform(0.02, 0.2))
        pos += seg
    return out


def make_recording(raw: Path, seconds: float, keywords: int, rng: np.random.Generator,
                   distractors_per_minute: float = 6.0, split: str = "test",
                   noise_root: Path | None = None) -> tuple[np.ndarray, list[dict]]:
    """A long 16 kHz recording and its keywords [{"label", "start", "end", "clip"}] (seconds; the render placed
    there), sorted by time.

    Keywords and unseen-word distractors (whole renders) are placed at random times without overlapping one
    another (a 0.3 s gap at least); a keyword's start and end are those of its word (`word_span`); a placement
    that finds no free spot after many tries is dropped. `split`: whose voices speak ("test"; "val" for the
    recordings that event settings are chosen on); `noise_root`: the set whose `_background_noise_` makes the
    background (default `raw`, the recordings' own noise draws).
    """
    n = int(seconds * RATE)
    audio = _noise_bed(_noise_bank(noise_root or raw), n, rng)
    kw_pool, other_pool = split_clips(raw, KEYWORDS, split), split_clips(raw, UNSEEN_WORDS, split)
    taken: list[tuple[int, int]] = []
    truth = []
    wanted = [("kw", kw_pool)] * keywords + [("other", other_pool)] * int(distractors_per_minute * seconds / 60)
    for kind, pool in wanted:
        word, path = pool[int(rng.integers(len(pool)))]
        speech = soundfile.read(path, dtype="float32")[0] * float(rng.uniform(0.6, 1.0))
        head, tail = word_span(speech)
        gap = int(0.3 * RATE)
        for _ in range(200):
            start = int(rng.integers(0, max(1, n - speech.size)))
            end = start + speech.size
            if end <= n and all(end + gap <= a or start >= b + gap for a, b in taken):
                break
        else:
            continue
        taken.append((start, end))
        audio[start:end] += speech
        if kind == "kw":
            truth.append({"label": word, "start": (start + head) / RATE, "end": (start + tail) / RATE,
                          "clip": str(path)})
    return np.clip(audio, -1.0, 1.0), sorted(truth, key=lambda t: t["start"])


def write_long_file(path: str | Path, seconds: float, rate: int = 44100, seed: int = 0) -> Path:
    """A long stereo PCM-16 WAV for memory tests (a gliding tone plus noise), written 10 s at a time."""
    rng, done = np.random.default_rng(seed), 0
    total = int(seconds * rate)
    with soundfile.SoundFile(str(path), "w", rate, 2, subtype="PCM_16") as f:
        while done < total:
            n = min(10 * rate, total - done)
            t = (done + np.arange(n)) / rate
            tone = 0.2 * np.sin(2 * np.pi * (300 + 200 * np.sin(2 * np.pi * t / 30)) * t)
            noise = 0.05 * rng.standard_normal((n, 2))
            f.write((np.stack([tone, 0.5 * tone], axis=1) + noise).astype(np.float32))
            done += n
    return Path(path)
