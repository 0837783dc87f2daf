"""Built-in unlabeled speech for self-supervised pretraining: espeak-ng utterances of many voices saying words,
numbers and short phrases (not only the keywords of the downstream task), one 1 s, 16 kHz clip each.

    OUT/<voice_id>/<k>.wav   (an audio tree: `data.format: unlabeled`, `layout: audio_tree`)
    OUT/corpus.csv           voice_id, k, text, espeak voice, variant, pitch, speed

Voices are drawn from espeak-ng's English accents x voice variants like the keyword set's (`aum.data.synth`),
minus the (accent, variant) pairs passed in `exclude` (the demo excludes the held-out voices of the keyword task,
so pretraining never hears a test speaker's timbre). Deterministic given `seed` and the espeak-ng installation.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from pathlib import Path

import numpy as np

from aum.data.synth import (
    PITCH_RANGE,
    SPEECH_COMMANDS_WORDS,
    SPEED_RANGE,
    Voice,
    english_voices,
    espeak_binary,
    map_tasks,
    utterance,
    voice_variants,
    write_wav,
)
from aum.errors import DataError

# everyday words beside the keywords: the corpus is broader than the downstream vocabulary
COMMON_WORDS = (
    "time", "person", "year", "way", "day", "thing", "man", "world", "life", "hand", "part", "child", "eye",
    "woman", "place", "work", "week", "case", "point", "number", "group", "problem", "fact", "water", "money",
    "story", "music", "light", "morning", "window", "garden", "paper", "table", "river", "mountain", "city",
    "street", "market", "school", "doctor", "teacher", "kitchen", "coffee", "bread", "apple", "orange",
    "green", "blue", "black", "white", "red", "yellow", "small", "large", "quick", "slow", "early", "late",
    "open", "close", "begin", "finish", "bring", "carry", "think", "speak", "listen", "watch", "travel", "laugh",
    "winter", "summer", "monday", "friday", "hello", "thanks", "please", "sorry", "maybe", "always", "never",
    "under", "over", "behind", "between", "inside", "outside", "again", "together", "today", "tomorrow",
)
PHRASE_SHARE, NUMBER_SHARE = 0.3, 0.2  # the rest are single words


def corpus_text(rng: np.random.Generator) -> str:
    """One utterance text: a short phrase (2-3 words), a number, or a single word."""
    vocabulary = SPEECH_COMMANDS_WORDS + COMMON_WORDS
    draw = rng.random()
    if draw < PHRASE_SHARE:
        return " ".join(vocabulary[i] for i in rng.integers(len(vocabulary), size=int(rng.integers(2, 4))))
    if draw < PHRASE_SHARE + NUMBER_SHARE:
        return str(int(rng.integers(0, 1000)))
    return vocabulary[int(rng.integers(len(vocabulary)))]


def corpus_voices(num_voices: int, seed: int, languages: list[str], variants: list[str],
                  exclude: set[tuple[str, str]] = frozenset()) -> list[Voice]:
    """`num_voices` distinct (accent, variant) speakers not in `exclude`, each with a base pitch and speed."""
    combos = [(lang, var) for lang in languages for var in variants if (lang, var) not in exclude]
    if not 1 <= num_voices <= len(combos):
        raise DataError(f"unlabeled corpus: {num_voices} voices asked, 1 to {len(combos)} available with this "
                         f"espeak-ng ({len(exclude)} pairs excluded)")
    rng = np.random.default_rng([seed, 77])
    picks = rng.choice(len(combos), size=num_voices, replace=False)
    return [Voice(hashlib.sha1(f"corpus:{seed}:{i}".encode()).hexdigest()[:8], "unlabeled", *combos[pick],
                  int(rng.integers(*PITCH_RANGE)), int(rng.integers(*SPEED_RANGE))) for i, pick in enumerate(picks)]


def render_corpus_voice(task: tuple) -> list[tuple[int, str]]:
    """Process-pool task: `count` clips of one voice; returns [(k, text)]."""
    binary, out, voice, count, seed, index = task
    rng = np.random.default_rng([seed, 1000 + index])
    folder = Path(out) / voice.voice_id
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(count):
        text = corpus_text(rng)
        write_wav(folder / f"{k}.wav", utterance(binary, voice, text, rng))
        rows.append((k, text))
    return rows


def synthesize_unlabeled(out: str | Path, num_voices: int = 300, clips_per_voice: int = 16, seed: int = 1,
                         exclude: set[tuple[str, str]] = frozenset(), jobs: int | None = None) -> dict:
    """Render the corpus into the empty or new folder `out`; returns {"clips", "voices", "seconds", "out"}."""
    binary = espeak_binary()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: folder is not empty; the unlabeled corpus is rendered into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    voices = corpus_voices(num_voices, seed, english_voices(binary), voice_variants(binary), exclude)
    started = time.perf_counter()
    tasks = [(binary, str(out), v, clips_per_voice, seed, i) for i, v in enumerate(voices)]
    rendered = map_tasks(render_corpus_voice, tasks, jobs or min(len(tasks), os.cpu_count() or 1))
    with open(out / "corpus.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["voice_id", "k", "text", "language", "variant", "pitch", "speed"])
        for v, rows in zip(voices, rendered):
            writer.writerows((v.voice_id, k, text, v.language, v.variant, v.pitch, v.speed) for k, text in rows)
    return {"out": str(out), "clips": num_voices * clips_per_voice, "voices": num_voices,
            "seconds": time.perf_counter() - started}


def voice_pairs(table: Path, held_out_only: bool = False) -> set[tuple[str, str]]:
    """(accent, variant) pairs of the voices in a generated table (a keyword set's voices.csv, a corpus'
    corpus.csv); with `held_out_only`, those whose split is not train."""
    with open(table, newline="") as f:
        return {(row["language"], row["variant"]) for row in csv.DictReader(f)
                if not held_out_only or row["split"] != "train"}


def held_out_voices(keyword_root: str | Path) -> set[tuple[str, str]]:
    """(accent, variant) pairs of the validation/test voices of a generated keyword set (its voices.csv);
    empty when the folder has no voices.csv (a user's own data)."""
    table = Path(keyword_root) / "voices.csv"
    return voice_pairs(table, held_out_only=True) if table.is_file() else set()
