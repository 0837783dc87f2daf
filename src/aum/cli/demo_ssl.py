"""`aum demo ssl`: does SSAMBA's masked patch pretraining help? (what `make demo-ssl` runs), CPU only.

1. unlabeled corpus: espeak-ng words, numbers and phrases of many voices (none of the keyword set's held-out
   voices), unless `--unlabeled DIR` (any audio tree) is given or OUT/unlabeled already holds it;
2. keyword task: the espeak-ng Speech Commands-layout set, or `--data DIR`; the labeled set is `--label-fraction`
   of its training voices (speaker-disjoint validation/test voices kept);
   (re-running reuses the rendered data and the feature cache, and redoes the runs);
3. per encoder (`--encoders`): pretrain once (reduced depth, said in the output), then per seed fine-tune from the
   pretrained and from random init, and probe the frozen encoders with logistic regression;
4. a table (mean ± half range over seeds) and the closing `ssl gain:` line (the first encoder's gains).

The arguments live on the `demo` parser (`aum demo ssl --encoders ssamba`); see `aum demo --help`.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from aum.errors import ConfigError

SSL_DEFAULT_OUT = "demo_out_ssl"
SSL_OPTIONS = ("unlabeled", "data", "encoders", "seeds", "label_fraction", "corpus_voices", "corpus_clips")
CORPUS_VOICES, CORPUS_CLIPS = 300, 16  # the generated unlabeled corpus: 4,800 clips


def add_ssl_arguments(parser) -> None:
    from aum.experiments.ssl import ENCODERS

    group = parser.add_argument_group("aum demo ssl (pretraining pretrained vs scratch; default out demo_out_ssl)")
    group.add_argument("--unlabeled", default=None, metavar="DIR", help="audio folder to pretrain on instead of "
                       "the generated corpus")
    group.add_argument("--data", default=None, metavar="DIR", help="Speech Commands-layout folder for the "
                       "downstream task instead of the generated keyword set")
    group.add_argument("--encoders", default=None, help=f"comma list of {','.join(ENCODERS)} (default all)")
    group.add_argument("--seeds", type=int, default=None, help="fine-tuning seeds (default 3)")
    group.add_argument("--label-fraction", type=float, default=None, help="share of the training voices that "
                       "are labeled (default 0.1)")
    group.add_argument("--corpus-voices", type=int, default=None, help=f"voices of the generated unlabeled corpus "
                       f"(default {CORPUS_VOICES})")
    group.add_argument("--corpus-clips", type=int, default=None, help=f"clips per voice of the generated corpus "
                       f"(default {CORPUS_CLIPS})")


def check_ssl_arguments(args) -> None:
    """The ssl options are refused on the keyword demo (they would be silently ignored there)."""
    given = [f"--{name.replace('_', '-')}" for name in SSL_OPTIONS if getattr(args, name, None) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only for `aum demo ssl`")


def run_ssl(args, overrides: list[str]) -> int:
    from aum.data.subset import speaker_subset
    from aum.data.synth import ensure_keyword_set
    from aum.data.synth_corpus import held_out_voices, synthesize_unlabeled
    from aum.experiments.ssl import (
        ENCODER_OVERRIDES,
        ENCODERS,
        SSLRecipe,
        measure_normalisation,
        run_encoder,
        write_results,
    )
    from aum.experiments.ssl_report import format_table, gain_line, write_pretrain_curves
    from aum.models import get_config

    started = time.perf_counter()
    out = Path(args.out or SSL_DEFAULT_OUT)
    encoders = (args.encoders or ",".join(ENCODERS)).split(",")
    unknown = [e for e in encoders if e not in ENCODERS]
    if unknown:
        raise ConfigError(f"--encoders: unknown {unknown}; choose from {list(ENCODERS)}")
    recipe = SSLRecipe(seeds=tuple(range(args.seeds or 3)))
    recipe_overrides(recipe, overrides)
    keywords = Path(args.data) if args.data else out / "keywords"
    if not args.data:
        print(ensure_keyword_set(keywords, args.words, args.voices, args.per_voice))
    labeled = out / "labeled"
    for previous in [labeled, *out.glob("pretrain_*"), *out.glob("finetune_*")]:  # a re-run redoes the runs
        shutil.rmtree(previous, ignore_errors=True)
    kept = speaker_subset(keywords, labeled, args.label_fraction or 0.1)
    print(f"labeled set: {len(kept)} training voices of {keywords} ({labeled}, symlinks)")
    unlabeled = Path(args.unlabeled) if args.unlabeled else out / "unlabeled"
    if not args.unlabeled and not (unlabeled / "corpus.csv").is_file():
        info = synthesize_unlabeled(unlabeled, args.corpus_voices or CORPUS_VOICES, args.corpus_clips or CORPUS_CLIPS,
                                    exclude=held_out_voices(keywords))
        print(f"generated the unlabeled corpus: {info['clips']} clips of {info['voices']} voices (words, numbers, "
              f"phrases; no held-out voice) in {info['seconds']:.0f} s")
    if recipe.mean is None:
        recipe.mean, recipe.std = measure_normalisation(recipe, unlabeled)
    print(f"frontend: {recipe.mel_bins} mel bins x {recipe.frames} frames, normalised with the unlabeled corpus' "
          f"mean {recipe.mean:.2f} / std {recipe.std:.2f}")
    for encoder in encoders:
        full = get_config(ENCODERS[encoder]).depth
        changed = "".join(f", {k}={v}" for k, v in ENCODER_OVERRIDES.get(encoder, {}).items())
        print(f"{encoder}: {ENCODERS[encoder]} at depth {recipe.depth} of {full} (reduced for a CPU demo{changed}); "
              f"pretrain {recipe.pretrain_epochs} epochs once, fine-tune {recipe.finetune_epochs} epochs x "
              f"{len(recipe.seeds)} seeds x (pretrained, scratch)", flush=True)
    rows, runs = [], {}
    for encoder in encoders:
        rows += run_encoder(encoder, recipe, unlabeled, labeled, out)
        runs[encoder] = out / f"pretrain_{encoder}"
        print(f"{encoder} done at {time.perf_counter() - started:.0f} s", flush=True)
    write_results(rows, out)
    csv_path, png_path = write_pretrain_curves(runs, out)
    from aum.experiments.ssl import summarise

    summary = summarise(rows)
    print("\n" + format_table(summary, len(recipe.seeds)))
    print(f"pretraining curves: {csv_path}, {png_path}; results: {out / 'ssl_results.csv'}")
    print(f"total time {time.perf_counter() - started:.0f} s")
    print(gain_line(summary, encoders[0], len(recipe.seeds)))
    return 0


def recipe_overrides(recipe, overrides: list[str]) -> None:
    """`key=value` overrides: a recipe field (`pretrain_epochs=2`) or a run config key (`train.max_steps=2`)."""
    from aum.train.config import parse_scalar

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
