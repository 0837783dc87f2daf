"""The long-audio benchmark's training set: what a keyword spotter has to see before it listens to a stream.

Built from the rendered word set (`longaudio_data.render_raw`: several espeak-ng renders per voice, each with its
own speed/pitch jitter, the word at a random offset inside the 1 s window), Speech Commands layout:
- one folder per keyword: every render of the training voices as a stream crop (`stream_crop`: the 1 s window a
  stream reader would see, shifted against the render so the word is anywhere inside it and the render's noise
  floor ends somewhere in the window, as in a long recording); validation / test clips are the renders themselves;
- `other` (about `other_share` x a keyword class, all from training voices): unrelated words (OTHER_WORDS, stream
  crops too, so a render's edge inside the window says nothing about the class),
  keywords cut by the window's edge (only 10-35 % of the word inside, so a window that merely grazes a keyword
  says `other`), babble (2-3 unrelated words on top of each other) and 1 s of background noise at a random level;
- `_background_noise_`: noises from the same generators as the recordings' background (`aum.data.synth`), other
  draws (seeds `seed + TRAIN_NOISE_SEED_OFFSET + k`), used by the training's noise augmentation and the noise
  crops; the recordings' own noise draws are never seen in training.
- validation / test lists: the clean renders of their own voices (keywords, and twice a keyword's share of other
  words), so the clean accuracy is measured on voices never heard in training.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile

from aum.data.readers import NOISE_FOLDER
from aum.data.synth import noise_signals
from aum.experiments.longaudio_data import KEYWORDS, OTHER, OTHER_WORDS, RATE, word_span

TRAIN_NOISE_SEED_OFFSET, TRAIN_NOISE_DRAWS = 101, 3
OTHER_MIX = {"word": 0.5, "cut": 0.2, "babble": 0.1, "noise": 0.2}  # shares of the `other` class
CUT_KEPT = (0.1, 0.35)  # share of a cut keyword's samples left inside the window


def light_noise(rng: np.random.Generator) -> np.ndarray:
    """The synth set's floor: 1 s of white noise at 0.001-0.01."""
    return (rng.uniform(0.001, 0.01) * rng.standard_normal(RATE)).astype(np.float32)


def stream_crop(render: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The render seen through a 1 s window at a random shift that keeps its whole word inside; the part of the
    window the render does not cover gets a fresh noise floor (`light_noise`)."""
    head, tail = word_span(render)
    shift = int(rng.integers(tail - RATE, head + 1))  # the window's start, in the render's samples
    out = light_noise(rng)
    a, b = max(0, shift), min(render.size, shift + RATE)
    out[a - shift:b - shift] = render[a:b]
    return out


def cut_keyword(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1 s holding only the head or the tail (CUT_KEPT of its samples) of the clip's word, at the window's edge."""
    start, end = word_span(clip)
    word = clip[start:end]
    kept = max(1, int(word.size * rng.uniform(*CUT_KEPT)))
    out = light_noise(rng)
    if rng.random() < 0.5:
        out[:kept] += word[-kept:]  # the window opens on the word's last part
    else:
        out[-kept:] += word[:kept]  # the window closes on the word's first part
    return out


def babble(clips: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """2-3 unrelated word clips, each shifted at random and scaled, summed."""
    picks = rng.choice(len(clips), size=int(rng.integers(2, 4)), replace=False)
    out = sum(np.roll(clips[i], int(rng.integers(RATE))) * rng.uniform(0.4, 1.0) for i in picks)
    return np.clip(out, -1, 1).astype(np.float32)


def noise_crop(noises: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """1 s of one or two training noises at a random level (log-uniform 0.02-1 of their 0.3 peak)."""
    out = light_noise(rng)
    for _ in range(1 + int(rng.random() < 0.3)):
        noise = noises[int(rng.integers(len(noises)))]
        start = int(rng.integers(0, noise.size - RATE))
        out += noise[start:start + RATE] * float(np.exp(rng.uniform(np.log(0.02), 0.0)))
    return np.clip(out, -1, 1).astype(np.float32)


def write_training_noises(out: Path, seed: int) -> list[np.ndarray]:
    (out / NOISE_FOLDER).mkdir(parents=True, exist_ok=True)
    noises = []
    for k in range(TRAIN_NOISE_DRAWS):
        for name, signal in noise_signals(seed + TRAIN_NOISE_SEED_OFFSET + k).items():
            soundfile.write(out / NOISE_FOLDER / f"{name}_{k}.wav", signal, RATE, subtype="PCM_16")
            noises.append(signal)
    return noises


def _split_of(raw: Path) -> dict[str, str]:
    """`word/file.wav` -> "val" / "test" for the clips on the raw set's lists (the rest is train)."""
    split = {}
    for name, value in (("validation_list.txt", "val"), ("testing_list.txt", "test")):
        split.update({rel: value for rel in (raw / name).read_text().split()})
    return split


def _clips(raw: Path, words, split: dict[str, str], wanted: str) -> list[str]:
    return sorted(f"{w}/{p.name}" for w in words for p in (raw / w).glob("*.wav")
                  if split.get(f"{w}/{p.name}", "train") == wanted)


def _read(raw: Path, rel: str) -> np.ndarray:
    return soundfile.read(raw / rel, dtype="float32")[0]


def build_training_set(raw: Path, out: Path, seed: int = 0, other_share: float = 4.0) -> Path:
    """Keywords + `other` + training noises under `out` (see the module docstring); reused when present."""
    if (out / "testing_list.txt").is_file():
        return out
    rng = np.random.default_rng([seed, 7])
    split = _split_of(raw)
    for word in KEYWORDS:
        (out / word).mkdir(parents=True, exist_ok=True)
        for rel in sorted(f"{word}/{p.name}" for p in (raw / word).glob("*.wav")):
            if split.get(rel, "train") == "train":
                soundfile.write(out / rel, stream_crop(_read(raw, rel), rng), RATE, subtype="PCM_16")
            else:
                shutil.copy(raw / rel, out / rel)  # validation / test clips: as rendered, named on the lists
    (out / OTHER).mkdir(parents=True, exist_ok=True)
    noises = write_training_noises(out, seed)
    keywords = _clips(raw, KEYWORDS, split, "train")
    per_keyword = len(keywords) / len(KEYWORDS)
    words = _clips(raw, OTHER_WORDS, split, "train")
    counts = {kind: int(round(share * other_share * per_keyword)) for kind, share in OTHER_MIX.items()}
    for i, rel in enumerate(rng.choice(words, size=min(counts["word"], len(words)), replace=False)):
        soundfile.write(out / OTHER / f"word{i:05d}_{rel.replace('/', '_')}", stream_crop(_read(raw, rel), rng), RATE,
                        subtype="PCM_16")
    word_audio = [_read(raw, rel) for rel in rng.choice(words, size=min(200, len(words)), replace=False)]
    makers = {"cut": lambda: cut_keyword(_read(raw, keywords[int(rng.integers(len(keywords)))]), rng),
              "babble": lambda: babble(word_audio, rng), "noise": lambda: noise_crop(noises, rng)}
    for kind, make in makers.items():
        for i in range(counts[kind]):
            soundfile.write(out / OTHER / f"{kind}{i:05d}_nohash_0.wav", make(), RATE, subtype="PCM_16")
    for name, wanted in (("validation_list.txt", "val"), ("testing_list.txt", "test")):
        lines = _clips(raw, KEYWORDS, split, wanted)
        others = _clips(raw, OTHER_WORDS, split, wanted)
        picked = rng.choice(others, size=min(len(others), 2 * len(lines) // len(KEYWORDS)), replace=False)
        for rel in sorted(picked):
            shutil.copy(raw / rel, out / OTHER / rel.replace("/", "_"))
            lines.append(f"{OTHER}/{rel.replace('/', '_')}")
        (out / name).write_text("".join(f"{rel}\n" for rel in lines))
    return out
