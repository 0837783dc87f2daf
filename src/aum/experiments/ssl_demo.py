"""`aum demo ssl`: does SSAMBA's masked patch pretraining help? (what `make demo-ssl` runs), CPU only.

1. unlabeled corpus: espeak-ng words, numbers and phrases of many voices (none of the keyword set's held-out
   voices), unless `unlabeled` (any audio tree) is given or OUT/unlabeled already holds it;
2. keyword task: the espeak-ng Speech Commands-layout set, or `data` (a folder in that layout); the labeled set is
   `label_fraction` of its training voices (speaker-disjoint validation/test voices kept); re-running reuses the
   rendered data and the feature cache, and redoes the runs;
3. per encoder: pretrain once (reduced depth, said in the output), then per seed fine-tune from the pretrained and
   from random init, and probe the frozen encoders with logistic regression (`aum.experiments.ssl`);
4. a table (mean ± half range over seeds) and the closing `ssl gain:` line (the first encoder's gains).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from aum.data.subset import speaker_subset
from aum.data.synth import ensure_keyword_set
from aum.data.synth_corpus import held_out_voices, synthesize_unlabeled
from aum.errors import ConfigError
from aum.experiments.ssl import (
    ENCODER_OVERRIDES,
    ENCODERS,
    SSLRecipe,
    measure_normalisation,
    run_encoder,
    summarise,
    write_results,
)
from aum.experiments.ssl_report import format_table, gain_line, write_pretrain_curves
from aum.models import get_config
from aum.schema import parse_scalar

CORPUS_VOICES, CORPUS_CLIPS = 300, 16  # the generated unlabeled corpus: 4,800 clips


@dataclass
class SSLDemo:
    """What `aum demo ssl` runs: where, on which data, which encoders and seeds, and the recipe overrides."""

    out: Path
    words: int
    voices: int
    per_voice: int
    encoders: list[str] = field(default_factory=lambda: list(ENCODERS))
    seeds: int = 3
    label_fraction: float = 0.1
    data: Path | None = None  # a Speech Commands-layout folder instead of the generated keyword set
    unlabeled: Path | None = None  # an audio tree to pretrain on instead of the generated corpus
    corpus_voices: int = CORPUS_VOICES
    corpus_clips: int = CORPUS_CLIPS
    overrides: list[str] = field(default_factory=list)


def recipe_overrides(recipe: SSLRecipe, overrides: list[str]) -> None:
    """`key=value` overrides: a recipe field (`pretrain_epochs=2`) or a run config key (`train.max_steps=2`)."""
    names = {f.name for f in dataclasses.fields(recipe)}
    for item in overrides:
        key, _, value = item.partition("=")
        if key in names and key not in ("extra", "seeds"):
            setattr(recipe, key, parse_scalar(value))
        elif "." in key:
            recipe.extra[key] = value
        else:
            raise ConfigError(f"{item}: not a recipe field ({', '.join(sorted(names - {'extra', 'seeds'}))}) "
                              "nor a section.key override")


def prepare_data(demo: SSLDemo) -> tuple[Path, Path]:
    """(labeled set, unlabeled corpus): rendered or reused; the labeled set is redone with the earlier runs."""
    out = demo.out
    keywords = demo.data or out / "keywords"
    if demo.data is None:
        print(ensure_keyword_set(keywords, demo.words, demo.voices, demo.per_voice))
    labeled = out / "labeled"
    for previous in [labeled, *out.glob("pretrain_*"), *out.glob("finetune_*")]:  # a re-run redoes the runs
        shutil.rmtree(previous, ignore_errors=True)
    kept = speaker_subset(keywords, labeled, demo.label_fraction)
    print(f"labeled set: {len(kept)} training voices of {keywords} ({labeled}, symlinks)")
    unlabeled = demo.unlabeled or out / "unlabeled"
    if demo.unlabeled is None and not (unlabeled / "corpus.csv").is_file():
        info = synthesize_unlabeled(unlabeled, demo.corpus_voices, demo.corpus_clips, exclude=held_out_voices(keywords))
        print(f"generated the unlabeled corpus: {info['clips']} clips of {info['voices']} voices (words, numbers, "
              f"phrases; no held-out voice) in {info['seconds']:.0f} s")
    return labeled, unlabeled


def run_demo(demo: SSLDemo) -> None:
    started = time.perf_counter()
    unknown = [e for e in demo.encoders if e not in ENCODERS]
    if unknown:
        raise ConfigError(f"--encoders: unknown {unknown}; choose from {list(ENCODERS)}")
    recipe = SSLRecipe(seeds=tuple(range(demo.seeds)))
    recipe_overrides(recipe, demo.overrides)
    labeled, unlabeled = prepare_data(demo)
    if recipe.mean is None:
        recipe.mean, recipe.std = measure_normalisation(recipe, unlabeled)
    print(f"frontend: {recipe.mel_bins} mel bins x {recipe.frames} frames, normalised with the unlabeled corpus' "
          f"mean {recipe.mean:.2f} / std {recipe.std:.2f}")
    for encoder in demo.encoders:
        full = get_config(ENCODERS[encoder]).depth
        changed = "".join(f", {k}={v}" for k, v in ENCODER_OVERRIDES.get(encoder, {}).items())
        print(f"{encoder}: {ENCODERS[encoder]} at depth {recipe.depth} of {full} (reduced for a CPU demo{changed}); "
              f"pretrain {recipe.pretrain_epochs} epochs once, fine-tune {recipe.finetune_epochs} epochs x "
              f"{len(recipe.seeds)} seeds x (pretrained, scratch)", flush=True)
    rows, runs = [], {}
    for encoder in demo.encoders:
        rows += run_encoder(encoder, recipe, unlabeled, labeled, demo.out)
        runs[encoder] = demo.out / f"pretrain_{encoder}"
        print(f"{encoder} done at {time.perf_counter() - started:.0f} s", flush=True)
    write_results(rows, demo.out)
    csv_path, png_path = write_pretrain_curves(runs, demo.out)
    summary = summarise(rows)
    print("\n" + format_table(summary, len(recipe.seeds)))
    print(f"pretraining curves: {csv_path}, {png_path}; results: {demo.out / 'ssl_results.csv'}")
    print(f"total time {time.perf_counter() - started:.0f} s")
    print(gain_line(summary, demo.encoders[0], len(recipe.seeds)))
