"""`aum demo ssl`: does SSAMBA's masked patch pretraining help? (what `make demo-ssl` runs), CPU only.

A protocol no default can be tuned to: the downstream data are keyword sets drawn per run (`--first-set`, `--sets`:
set k has its own words and voices, drawn from pools that exclude the demo's default set; `aum.data.synth.
draw_keyword_set`). The recipe's defaults were chosen on other draws (`TUNING_SETS`), never on the ones reported.

1. keyword sets: rendered (or reused) under OUT/set<k>/keywords, or `data` (one folder in the Speech Commands
   layout) instead;
2. unlabeled corpus: espeak-ng words, numbers and phrases of many voices, none of any set's held-out voices, unless
   `unlabeled` (any audio tree) is given; rendered once, reused while it still excludes those voices;
3. per encoder: pretrain once on the corpus (reduced depth, said in the output);
4. per set and downstream task (`keywords`: the set's words, a tenth of its training voices labeled; `speakers`:
   identify its held-out voices from words they were not heard saying), per seed: fine-tune from the pretrained
   encoder and from random init, and probe both frozen encoders with logistic regression (`aum.experiments.ssl`);
5. a table per task (each set, then the mean over sets), and one closing `ssl gain (task):` line per task for the
   first encoder.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from aum.data.subset import speaker_id_set, speaker_subset
from aum.data.synth import ensure_keyword_set
from aum.data.synth_corpus import held_out_voices, synthesize_unlabeled, voice_pairs
from aum.errors import ConfigError
from aum.experiments.ssl import (
    ENCODER_OVERRIDES,
    ENCODERS,
    SSLRecipe,
    evaluate_encoder,
    measure_normalisation,
    pretrain_encoder,
    write_results,
)
from aum.experiments.ssl_report import format_table, gain_lines, write_pretrain_curves
from aum.models import get_config
from aum.schema import parse_scalar

CORPUS_VOICES, CORPUS_CLIPS = 300, 16  # the generated unlabeled corpus: 4,800 clips
TASKS = ("keywords", "speakers")
TUNING_SETS = (101, 102)  # the draws the recipe's defaults were chosen on; reported sets are 1, 2, 3, ...


@dataclass
class SSLDemo:
    """What `aum demo ssl` runs: where, on which data, which encoders, tasks and seeds, and recipe overrides."""

    out: Path
    words: int
    voices: int
    per_voice: int
    encoders: list[str] = field(default_factory=lambda: ["ssamba", "ssast"])
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    seeds: int = 3
    sets: int = 1
    first_set: int = 1
    label_fraction: float = 0.1
    data: Path | None = None  # a Speech Commands-layout folder instead of the drawn keyword sets
    unlabeled: Path | None = None  # an audio tree to pretrain on instead of the generated corpus
    corpus_voices: int = CORPUS_VOICES
    corpus_clips: int = CORPUS_CLIPS
    overrides: list[str] = field(default_factory=list)

    def check(self) -> None:
        unknown = [e for e in self.encoders if e not in ENCODERS] + [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ConfigError(f"--encoders / --tasks: unknown {unknown}; choose from {list(ENCODERS)} / {list(TASKS)}")
        if self.sets < 1 or self.first_set < 1:
            raise ConfigError(f"--sets {self.sets} / --first-set {self.first_set}: both must be at least 1")
        if self.data is not None and self.sets != 1:
            raise ConfigError("--data is one keyword set: --sets must be 1 with it")

    def draws(self) -> list[int]:
        return [0] if self.data is not None else list(range(self.first_set, self.first_set + self.sets))


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


def keyword_sets(demo: SSLDemo) -> dict[int, Path]:
    """{draw: keyword folder}, rendered or reused; draw 0 is the user's `data` folder."""
    if demo.data is not None:
        return {0: demo.data}
    found = {}
    for draw in demo.draws():
        found[draw] = demo.out / f"set{draw}" / "keywords"
        print(ensure_keyword_set(found[draw], demo.words, demo.voices, demo.per_voice, draw=draw), flush=True)
    return found


def corpus(demo: SSLDemo, sets: dict[int, Path]) -> Path:
    """The unlabeled corpus: the user's, or the generated one, which holds none of the sets' held-out voices."""
    if demo.unlabeled is not None:
        return demo.unlabeled
    folder, held = demo.out / "unlabeled", set().union(*(held_out_voices(root) for root in sets.values()))
    if (folder / "corpus.csv").is_file():
        if not voice_pairs(folder / "corpus.csv") & held:
            return folder
        print(f"{folder}: holds held-out voices of these keyword sets; rendering it again")
        shutil.rmtree(folder)
    info = synthesize_unlabeled(folder, demo.corpus_voices, demo.corpus_clips, exclude=held)
    print(f"generated the unlabeled corpus: {info['clips']} clips of {info['voices']} voices (words, numbers, "
          f"phrases; no held-out voice) in {info['seconds']:.0f} s", flush=True)
    return folder


def labeled_set(task: str, keywords: Path, folder: Path, label_fraction: float) -> str:
    """Write the labeled data of `task` for one keyword set into `folder` (symlinks); returns what it holds."""
    shutil.rmtree(folder, ignore_errors=True)
    if task == "keywords":
        kept = speaker_subset(keywords, folder, label_fraction)
        return f"{len(kept)} labeled training voices"
    speakers = speaker_id_set(keywords, folder)
    return f"{len(speakers)} held-out voices to identify"


def run_demo(demo: SSLDemo) -> None:
    started = time.perf_counter()
    demo.check()
    recipe = SSLRecipe(seeds=tuple(range(demo.seeds)))
    recipe_overrides(recipe, demo.overrides)
    sets = keyword_sets(demo)
    unlabeled = corpus(demo, sets)
    if recipe.mean is None:
        recipe.mean, recipe.std = measure_normalisation(recipe, unlabeled)
    print(f"frontend: {recipe.mel_bins} mel bins x {recipe.frames} frames, normalised with the unlabeled corpus' "
          f"mean {recipe.mean:.2f} / std {recipe.std:.2f}")
    for previous in [*demo.out.glob("pretrain_*"), *demo.out.glob("set*/runs")]:  # a re-run redoes the runs
        shutil.rmtree(previous, ignore_errors=True)
    labeled = {}  # (set, task) -> its labeled data, shared by every encoder
    for draw, keywords in sets.items():
        for task in demo.tasks:
            labeled[draw, task] = demo.out / f"set{draw}" / f"labeled_{task}"
            what = labeled_set(task, keywords, labeled[draw, task], demo.label_fraction)
            print(f"set {draw}, {task}: {what}", flush=True)
    rows, runs = [], {}
    for encoder in demo.encoders:
        full = get_config(ENCODERS[encoder]).depth
        changed = "".join(f", {k}={v}" for k, v in ENCODER_OVERRIDES.get(encoder, {}).items())
        print(f"{encoder}: {ENCODERS[encoder]} at depth {recipe.depth} of {full} (reduced for a CPU demo{changed}); "
              f"pretrain {recipe.pretrain_epochs} epochs once, then per set and task fine-tune "
              f"{recipe.finetune_epochs} epochs x {len(recipe.seeds)} seeds x (pretrained, scratch)", flush=True)
        pretrain_s = pretrain_encoder(encoder, recipe, unlabeled, demo.out)
        runs[encoder] = demo.out / f"pretrain_{encoder}"
        for (draw, task), folder in labeled.items():
            found = evaluate_encoder(encoder, recipe, demo.out, folder, demo.out / f"set{draw}" / "runs" / task, task)
            rows += [{"set": draw, "task": task, **row, "pretrain_s": pretrain_s} for row in found]
        print(f"{encoder} done at {time.perf_counter() - started:.0f} s", flush=True)
    summary = write_results(rows, demo.out)
    csv_path, png_path = write_pretrain_curves(runs, demo.out)
    print("\n" + format_table(summary, len(recipe.seeds)))
    print(f"pretraining curves: {csv_path}, {png_path}; results: {demo.out / 'ssl_results.csv'}")
    print(f"total time {time.perf_counter() - started:.0f} s")
    print("\n".join(gain_lines(summary, demo.encoders[0], len(recipe.seeds))))
