"""`aum demo [keywords|ssl] ...`: the built-in demos, CPU only. `aum demo` alone runs `aum demo keywords` (what
`make demo` runs); `aum demo ssl` is what `make demo-ssl` runs. Each has its own `--help`.

`aum demo keywords --out DIR [key=value ...]`:
1. render the spoken-keyword set with espeak-ng (Speech Commands v2 layout, voices disjoint between splits),
   unless DIR/data already holds it;
2. train AuM-tiny (reduced depth, see `aum.train.recipes.DEMO`: said in the output) on the training voices;
3. evaluate the best checkpoint on the test split (voices never heard in training) and print the accuracy;
4. classify one test file with `model.predict` and print its top labels.
The recipe is `configs/demo.yaml` (kept identical to DEMO; a test checks it); `key=value` overrides apply.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import time
from pathlib import Path

from aum.audio import load_audio
from aum.cli.train import RichProgress
from aum.data.synth import ensure_keyword_set
from aum.models import from_pretrained, get_config
from aum.train import run_training
from aum.train.config import apply_overrides, config_from_dict
from aum.train.recipes import DEMO

DEMO_WORDS, DEMO_VOICES, DEMO_PER_VOICE = 10, 200, 1  # speaker variety is what generalises to unseen voices
TARGET_ACCURACY, TARGET_SECONDS = 0.80, 600
DEMOS = {"keywords": "spoken keywords: train AuM-tiny on CPU, test on unseen voices, classify a file (default)",
         "ssl": "does SSAMBA pretraining help? pretrained vs scratch on drawn keyword sets, SSAMBA vs SSAST"}
DEFAULT_DEMO = "keywords"
SSL_DESCRIPTION = """Does SSAMBA's masked patch pretraining help? (`make demo-ssl`)

Pretrain each encoder once on an unlabeled espeak-ng corpus, then on each drawn keyword set (its own words and
voices; none of them the keyword demo's) and task (keywords: a tenth of the training voices labeled; speakers:
identify the held-out voices from words not heard from them), per seed fine-tune from the pretrained and from
random init, and probe both frozen encoders; a table per task (each set and the mean) and `ssl gain` lines. The
corpus holds none of the sets' held-out voices. Re-running reuses the rendered data and redoes the runs. Steps:
aum.experiments.ssl_demo."""


def register(sub) -> None:
    p = sub.add_parser("demo", help="built-in CPU demos: keyword spotting (default), SSL pretraining",
                       description="Built-in CPU demos on generated data (espeak-ng). `aum demo` alone runs "
                       "`aum demo keywords`. Options of one: aum demo NAME --help")
    demos = p.add_subparsers(dest="demo", metavar="DEMO", required=True)
    keywords = demos.add_parser("keywords", help=DEMOS["keywords"], description=__doc__.strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_keyword_set_arguments(keywords, "demo_out")
    keywords.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides, e.g. train.epochs=6")
    keywords.set_defaults(func=run_keywords)
    ssl = demos.add_parser("ssl", help=DEMOS["ssl"], description=SSL_DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_keyword_set_arguments(ssl, "demo_out_ssl")
    ssl.add_argument("--unlabeled", type=Path, default=None, metavar="DIR",
                     help="audio folder to pretrain on instead of the generated corpus")
    ssl.add_argument("--data", type=Path, default=None, metavar="DIR",
                     help="Speech Commands-layout folder for the downstream task instead of the generated keywords")
    ssl.add_argument("--encoders", default="ssamba,ssast", help="comma list of ssamba, ssast, aum (the AuM encoder "
                     "with its CLS in the middle; default ssamba,ssast: the papers' comparison)")
    ssl.add_argument("--tasks", default="keywords,speakers", help="downstream tasks: keywords (the set's words), "
                     "speakers (identify its held-out voices); default both")
    ssl.add_argument("--sets", type=int, default=1, help="keyword sets to draw and report, each with its own words "
                     "and voices (default 1)")
    ssl.add_argument("--first-set", type=int, default=1, help="number of the first drawn set (default 1; the "
                     "recipe's defaults were chosen on sets 101 and 102)")
    ssl.add_argument("--seeds", type=int, default=3, help="fine-tuning seeds (default 3)")
    ssl.add_argument("--label-fraction", type=float, default=0.1,
                     help="share of the training voices that are labeled (default 0.1)")
    ssl.add_argument("--corpus-voices", type=int, default=300, help="voices of the generated unlabeled corpus "
                     "(default 300)")
    ssl.add_argument("--corpus-clips", type=int, default=16, help="clips per voice of the generated corpus "
                     "(default 16)")
    ssl.add_argument("overrides", nargs="*", metavar="key=value",
                     help="a recipe field (pretrain_epochs=2) or a run config key (train.max_steps=2)")
    ssl.set_defaults(func=run_ssl)


def add_keyword_set_arguments(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("--out", type=Path, default=Path(out), help=f"demo folder (default {out})")
    p.add_argument("--words", type=int, default=DEMO_WORDS, help=f"keywords (default {DEMO_WORDS})")
    p.add_argument("--voices", type=int, default=DEMO_VOICES, help=f"speakers (default {DEMO_VOICES})")
    p.add_argument("--per-voice", type=int, default=DEMO_PER_VOICE, help="clips per word and voice (default 1)")


def demo_config(data_root: Path, cache_dir: Path, overrides: list[str]):
    raw = copy.deepcopy(DEMO)
    raw["data"].update(root=str(data_root), cache_dir=str(cache_dir))
    return config_from_dict(apply_overrides(raw, overrides))


def model_description(cfg) -> str:
    name = cfg.model.name
    full, depth = get_config(name).depth, cfg.model.config.depth
    return name.replace("_", "-").replace("aum", "AuM") + (f", {depth} of {full} layers (reduced for a CPU demo)"
                                                           if depth != full else f", {depth} layers")


def run_keywords(args) -> int:
    started = time.perf_counter()
    out = args.out
    print(ensure_keyword_set(out / "data", args.words, args.voices, args.per_voice))
    cfg = demo_config(out / "data", out / "feature_cache", args.overrides)
    print(f"training {model_description(cfg)} on CPU: {cfg.train.epochs} epochs, batch {cfg.train.batch_size}, "
          f"{cfg.frontend.target_frames} frames x {cfg.frontend.num_mel_bins} mel bins")
    shutil.rmtree(out / "run", ignore_errors=True)
    summary = run_training(cfg, out / "run", progress=RichProgress())
    accuracy = summary["test"]["accuracy"]
    seconds = time.perf_counter() - started
    print(f"\naccuracy on unseen voices (test split, {int(summary['test']['num_clips'])} clips): "
          f"{100 * accuracy:.1f} %   (target >= {100 * TARGET_ACCURACY:.0f} %)")
    model = from_pretrained(out / "run" / "best")
    example = first_test_file(out / "data")
    rate = model.frontend().sample_rate
    top = model.predict(load_audio(example, rate), rate, top_k=3)
    print(f"predict {example.relative_to(out)}: " + ", ".join(f"{label} {score:.2f}" for label, score in top))
    print(f"total time {seconds:.0f} s (target <= {TARGET_SECONDS} s); run folder {out / 'run'}")
    if accuracy < TARGET_ACCURACY or seconds > TARGET_SECONDS:
        # the run itself worked: say it plainly, but do not fail `make demo` over a number
        print("note: below the demo's target on this machine; please report it with the output above")
    return 0


def first_test_file(root: Path) -> Path:
    line = (root / "testing_list.txt").read_text().split()[0]
    return root / line


def run_ssl(args) -> int:
    from aum.experiments.ssl_demo import SSLDemo, run_demo  # an experiment: loaded when it runs, as the benches are

    run_demo(SSLDemo(out=args.out, words=args.words, voices=args.voices, per_voice=args.per_voice,
                     encoders=args.encoders.split(","), tasks=args.tasks.split(","), seeds=args.seeds,
                     sets=args.sets, first_set=args.first_set, label_fraction=args.label_fraction,
                     data=args.data, unlabeled=args.unlabeled, corpus_voices=args.corpus_voices,
                     corpus_clips=args.corpus_clips, overrides=args.overrides))
    return 0
