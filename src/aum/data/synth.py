"""Built-in data: spoken keywords rendered with espeak-ng in the Speech Commands v2 layout.

    OUT/<word>/<voice_id>_nohash_<k>.wav   16 kHz mono PCM-16, exactly 1 s
    OUT/validation_list.txt, OUT/testing_list.txt   (`word/file.wav` lines; voices disjoint between the splits)
    OUT/_background_noise_/*.wav           a few generated noises (for the `noise` augmentation)
    OUT/voices.csv                         the speaker table (id, split, espeak voice, variant, pitch, speed)

A "voice" (speaker) is an English espeak-ng voice (accent) x a voice variant x a base pitch and speed; each
utterance jitters pitch and speed a little, is trimmed, scaled to a random level, placed at a random offset in the
1 s window and gets light white noise. The output is deterministic given `seed` and the espeak-ng installation
(the list of variants comes from `espeak-ng --voices=variant`). Rendering runs in a process pool, one voice per
task, each task seeded by (seed, voice index), so the result does not depend on the number of processes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np

from aum.audio.io import audio_package
from aum.data.readers import NOISE_FOLDER
from aum.errors import DataError, UnavailableError

log = logging.getLogger(__name__)

# the 35 words of Speech Commands v2: the 10 commands first, then digits, auxiliary words, v2 additions
SPEECH_COMMANDS_WORDS = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
)
# words that drawn keyword sets pick from besides the Speech Commands words (`draw_keyword_set`): everyday nouns and
# colours of one to three syllables, none of them the demo's ten default keywords
EXTRA_KEYWORDS = (
    "apple", "banana", "basket", "butter", "button", "camera", "candle", "castle", "coffee", "dollar", "dragon",
    "garden", "golden", "jacket", "kitchen", "lemon", "magic", "monkey", "morning", "music", "orange", "paper",
    "pencil", "pizza", "planet", "pocket", "purple", "rabbit", "river", "rocket", "silver", "summer", "table",
    "ticket", "tiger", "turtle", "water", "window", "winter", "yellow",
)
DEFAULT_KEYWORDS = 10  # the demo's set: the first ten Speech Commands words, voices of seed 0
SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # exactly 1 s
PITCH_RANGE = (15, 85)      # espeak-ng -p (0-99)
SPEED_RANGE = (120, 210)    # espeak-ng -s (words per minute)
JITTER_PITCH, JITTER_SPEED = 6, 12
INSTALL_HINT = ("espeak-ng not found: install it (Debian/Ubuntu: `sudo apt-get install espeak-ng`, Fedora: "
                "`sudo dnf install espeak-ng`, macOS: `brew install espeak-ng`)")


@dataclass(frozen=True)
class Voice:
    voice_id: str
    split: str
    language: str
    variant: str
    pitch: int
    speed: int


def espeak_binary() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise UnavailableError(INSTALL_HINT)
    return binary


def _voice_table(binary: str, selector: str) -> list[list[str]]:
    """Rows of `espeak-ng --voices=<selector>` split on whitespace (header dropped)."""
    out = subprocess.run([binary, f"--voices={selector}"], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[1:] if line.strip()]


def english_voices(binary: str) -> list[str]:
    """espeak-ng's own English accents (`gmw/...` files; MBROLA voices need extra packages)."""
    return sorted({row[1] for row in _voice_table(binary, "en") if len(row) >= 5 and row[4].startswith("gmw/")})


def voice_variants(binary: str) -> list[str]:
    """Variant names usable as `+<name>` (whisper variants left out: they carry no pitch)."""
    names = {row[4][3:] for row in _voice_table(binary, "variant") if len(row) == 5 and row[4].startswith("!v/")}
    return sorted(n for n in names if "whisper" not in n.lower())


def make_voices(num_voices: int, seed: int, languages: list[str], variants: list[str],
                val_fraction: float = 0.1, test_fraction: float = 0.1,
                exclude: set[tuple[str, str]] = frozenset()) -> list[Voice]:
    """`num_voices` distinct (accent, variant) speakers with base pitch/speed, split train/val/test by voice; none
    of the (accent, variant) pairs in `exclude`."""
    if num_voices < 3:
        raise DataError("need at least 3 voices (one each for train, validation and test)")
    combos = [(lang, var) for lang in languages for var in variants if (lang, var) not in exclude]
    if num_voices > len(combos):
        raise DataError(f"at most {len(combos)} voices with this espeak-ng ({len(languages)} accents x "
                        f"{len(variants)} variants{f', {len(exclude)} excluded' if exclude else ''})")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(combos), size=num_voices, replace=False)
    n_test = max(1, round(num_voices * test_fraction))
    n_val = max(1, round(num_voices * val_fraction))
    splits = ["test"] * n_test + ["val"] * n_val + ["train"] * (num_voices - n_test - n_val)
    splits = [splits[i] for i in rng.permutation(num_voices)]
    voices = []
    for i, (pick, split) in enumerate(zip(picks, splits)):
        voice_id = hashlib.sha1(f"{seed}:{i}".encode()).hexdigest()[:8]
        pitch, speed = int(rng.integers(*PITCH_RANGE)), int(rng.integers(*SPEED_RANGE))
        voices.append(Voice(voice_id, split, *combos[pick], pitch, speed))
    return voices


def speak(binary: str, voice: Voice, word: str, pitch: int, speed: int) -> tuple[np.ndarray, int]:
    """espeak-ng rendering of `word`: (samples,) float32 and its sample rate."""
    command = [binary, "-v", f"{voice.language}+{voice.variant}", "-p", str(pitch), "-s", str(speed), "--stdout",
               word]
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0 or not result.stdout:
        stderr = result.stderr.decode(errors="replace").strip().replace("\n", " ")
        raise UnavailableError(f"espeak-ng failed for voice {voice.language}+{voice.variant}, word {word!r}: {stderr}")
    audio, rate = audio_package("soundfile").read(io.BytesIO(result.stdout), dtype="float32")
    return audio.reshape(-1), rate


def trim_silence(audio: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Cut leading/trailing samples below `threshold` x peak."""
    loud = np.flatnonzero(np.abs(audio) > threshold * (np.abs(audio).max() + 1e-9))
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio


def place_in_window(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Speech at a random offset in a 1 s window (centre-cut when it is longer than 1 s)."""
    clip = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    if speech.size >= CLIP_SAMPLES:
        start = (speech.size - CLIP_SAMPLES) // 2
        return speech[start:start + CLIP_SAMPLES].astype(np.float32)
    offset = int(rng.integers(0, CLIP_SAMPLES - speech.size + 1))
    clip[offset:offset + speech.size] = speech
    return clip


def utterance(binary: str, voice: Voice, word: str, rng: np.random.Generator) -> np.ndarray:
    """One 1 s, 16 kHz clip of `voice` saying `word`, with jitter, random level, offset and light noise."""
    pitch = int(np.clip(voice.pitch + rng.integers(-JITTER_PITCH, JITTER_PITCH + 1), 0, 99))
    speed = int(max(80, voice.speed + rng.integers(-JITTER_SPEED, JITTER_SPEED + 1)))
    audio, rate = speak(binary, voice, word, pitch, speed)
    speech = trim_silence(audio_package("soxr").resample(audio, rate, SAMPLE_RATE).astype(np.float32))
    speech *= rng.uniform(0.2, 0.9) / (np.abs(speech).max() + 1e-9)
    clip = place_in_window(speech, rng)
    noise_level = rng.uniform(0.001, 0.01)
    return np.clip(clip + noise_level * rng.standard_normal(CLIP_SAMPLES), -1, 1).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """16 kHz PCM-16 WAV (soundfile is imported where audio is written, as where it is read: aum.audio.io)."""
    audio_package("soundfile").write(path, samples, SAMPLE_RATE, subtype="PCM_16")


def render_voice(task: tuple) -> list[str]:
    """Process-pool task: every word x per_voice clip of one voice; returns the written `word/file.wav` paths."""
    binary, out, voice, words, per_voice, seed, index = task
    rng = np.random.default_rng([seed, index])
    written = []
    for word in words:
        for k in range(per_voice):
            rel = f"{word}/{voice.voice_id}_nohash_{k}.wav"
            write_wav(Path(out) / rel, utterance(binary, voice, word, rng))
            written.append(rel)
    return written


def map_tasks(func, tasks: list, jobs: int) -> list:
    """`[func(t) for t in tasks]`, in a process pool of `jobs` workers when jobs > 1 (order kept)."""
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(func, tasks))
    return [func(t) for t in tasks]


def noise_signals(seed: int, seconds: float = 10.0) -> dict[str, np.ndarray]:
    """A few background noises (white, pink, brown, mains hum, babble-like) at 16 kHz."""
    rng = np.random.default_rng([seed, 999_999])
    n = int(seconds * SAMPLE_RATE)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 1.0)
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")  # remove the drift
    t = np.arange(n) / SAMPLE_RATE
    hum = sum(np.sin(2 * np.pi * 50 * h * t) / h for h in range(1, 6)) + 0.1 * white
    babble = np.fft.irfft(spectrum * np.exp(-(((freqs - 500) / 400) ** 2)), n) * (1 + np.sin(2 * np.pi * 3 * t))
    signals = {"white_noise": white, "pink_noise": pink, "brown_noise": brown, "hum": hum, "babble": babble}
    return {name: (0.3 * s / np.abs(s).max()).astype(np.float32) for name, s in signals.items()}


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"{out}: folder is not empty (use --overwrite to replace a generated set)")
        if not (out / "voices.csv").is_file():
            raise DataError(f"{out}: not a generated set (no voices.csv); refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _write_tables(out: Path, voices: list[Voice], written: list[list[str]]) -> None:
    with open(out / "voices.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([fld.name for fld in fields(Voice)])
        writer.writerows(astuple(v) for v in voices)
    for split, name in (("val", "validation_list.txt"), ("test", "testing_list.txt")):
        lines = sorted(rel for v, rels in zip(voices, written) if v.split == split for rel in rels)
        (out / name).write_text("".join(f"{rel}\n" for rel in lines))


def synthesize_speech_commands(out: str | Path, words: list[str] | None = None, num_words: int = 10,
                               num_voices: int = 40, per_voice: int = 2, seed: int = 0, jobs: int | None = None,
                               val_fraction: float = 0.1, test_fraction: float = 0.1, overwrite: bool = False,
                               exclude_voices: set[tuple[str, str]] = frozenset()) -> dict:
    """Render the keyword set into `out` (Speech Commands v2 layout); returns a summary dict."""
    binary = espeak_binary()
    words = list(words) if words else list(SPEECH_COMMANDS_WORDS[:num_words])
    if not words or any(not w.strip() or "/" in w or w.startswith("_") for w in words):
        raise DataError(f"invalid word list {words}: words must be non-empty, without '/', not starting with '_'")
    voices = make_voices(num_voices, seed, english_voices(binary), voice_variants(binary), val_fraction,
                         test_fraction, exclude_voices)
    out = Path(out)
    _prepare_out(out, overwrite)
    for word in words:
        (out / word).mkdir()
    (out / NOISE_FOLDER).mkdir()
    for name, signal in noise_signals(seed).items():
        write_wav(out / NOISE_FOLDER / f"{name}.wav", signal)
    started = time.perf_counter()
    tasks = [(binary, str(out), v, words, per_voice, seed, i) for i, v in enumerate(voices)]
    jobs = jobs or min(len(tasks), os.cpu_count() or 1)
    written = map_tasks(render_voice, tasks, jobs)
    _write_tables(out, voices, written)
    seconds = time.perf_counter() - started
    counts = {s: sum(v.split == s for v in voices) for s in ("train", "val", "test")}
    log.info("rendered %d clips (%d words x %d voices x %d) in %.1f s", len(words) * len(voices) * per_voice,
             len(words), len(voices), per_voice, seconds)
    return {"out": str(out), "words": words, "voices": counts, "clips": len(words) * len(voices) * per_voice,
            "seconds": seconds, "jobs": jobs}


def draw_keyword_set(draw: int, words: int, voices: int) -> tuple[list[str], set[tuple[str, str]]]:
    """Keyword set number `draw` (1, 2, ...): `words` keywords drawn from the Speech Commands words and
    `EXTRA_KEYWORDS`, none of the demo's default ones, and the (accent, variant) pairs its voices must avoid: those
    of the demo's default set. Returns (words, excluded voices); its voices are `make_voices(voices, seed=draw)`."""
    if draw < 1:
        raise DataError(f"keyword set draws are numbered from 1, got {draw} (0 is the demo's default set)")
    pool = list(SPEECH_COMMANDS_WORDS[DEFAULT_KEYWORDS:] + EXTRA_KEYWORDS)
    if words > len(pool):
        raise DataError(f"at most {len(pool)} words can be drawn, got {words}")
    rng = np.random.default_rng([draw, 7])
    chosen = sorted(pool[i] for i in rng.choice(len(pool), size=words, replace=False))
    binary = espeak_binary()
    default = make_voices(voices, 0, english_voices(binary), voice_variants(binary))
    return chosen, {(v.language, v.variant) for v in default}


def ensure_keyword_set(root: Path, words: int, voices: int, per_voice: int, draw: int = 0) -> str:
    """Render the spoken-keyword set into `root` unless it is there already; returns a line saying which. `draw`
    0 is the demo's default set (the first `words` Speech Commands words, voices of seed 0); 1, 2, ... are drawn
    sets (`draw_keyword_set`): other words, other voices."""
    spec = {"draw": draw, "words": words, "voices": voices, "per_voice": per_voice}
    if (root / "testing_list.txt").is_file():
        recorded = root / "keyword_set.json"
        if recorded.is_file() and json.loads(recorded.read_text()) != spec:
            raise DataError(f"{root}: holds keyword set {recorded.read_text().strip()}, not {spec}; use another folder")
        return f"reusing the keyword set in {root}"
    if draw:
        chosen, exclude = draw_keyword_set(draw, words, voices)
        info = synthesize_speech_commands(root, words=chosen, num_voices=voices, per_voice=per_voice, seed=draw,
                                          exclude_voices=exclude)
    else:
        info = synthesize_speech_commands(root, num_words=words, num_voices=voices, per_voice=per_voice, seed=0)
    (root / "keyword_set.json").write_text(json.dumps(spec) + "\n")
    v = info["voices"]
    which = f"set {draw}: " if draw else ""
    return (f"generated {which}{info['clips']} clips: {len(info['words'])} words x {sum(v.values())} voices "
            f"(train/val/test voices {v['train']}/{v['val']}/{v['test']}) in {info['seconds']:.0f} s"
            + (f"; words {', '.join(info['words'])}" if draw else ""))
