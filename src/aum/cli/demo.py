"""`aum demo --out DIR`: the built-in end-to-end demo (what `make demo` runs), CPU only.

1. render the spoken-keyword set with espeak-ng (Speech Commands v2 layout, voices disjoint between splits),
   unless DIR/data already holds it;
2. train AuM-tiny (reduced depth, see `aum.train.recipes.DEMO`: said in the output) on the training voices;
3. evaluate the best checkpoint on the test split (voices never heard in training) and print the accuracy;
4. classify one test file with `model.predict` and print its top labels.

The recipe is `configs/demo.yaml` (kept identical to DEMO; a test checks it); `key=value` overrides apply.
"""

from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path

from aum.train.recipes import DEMO

# the demo recipe; configs/demo.yaml holds the same values (data.root is set at run time)
DEMO_WORDS, DEMO_VOICES, DEMO_PER_VOICE = 10, 200, 1  # speaker variety is what generalises to unseen voices
TARGET_ACCURACY, TARGET_SECONDS = 0.80, 600


def register(sub) -> None:
    from aum.cli.demo_ssl import add_ssl_arguments

    p = sub.add_parser("demo", help="generate spoken keywords, train AuM-tiny on CPU, test on unseen voices "
                       "(`aum demo ssl`: does pretraining help?)",
                       description="End-to-end demo: espeak-ng keyword set -> train AuM-tiny -> accuracy on "
                       "unseen voices -> classify one file. Re-running reuses DIR/data and retrains DIR/run. "
                       "`aum demo ssl [options] [recipe=value ...]`: SSAMBA/SSAST/AuM pretraining vs scratch.")
    p.add_argument("--out", default=None, help="demo folder (default demo_out; demo_out_ssl for `ssl`)")
    p.add_argument("--words", type=int, default=DEMO_WORDS, help=f"keywords (default {DEMO_WORDS})")
    p.add_argument("--voices", type=int, default=DEMO_VOICES, help=f"speakers (default {DEMO_VOICES})")
    p.add_argument("--per-voice", type=int, default=DEMO_PER_VOICE, help="clips per word and voice")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides, e.g. train.epochs=6")
    add_ssl_arguments(p)
    p.set_defaults(func=run)


def demo_config(data_root: Path, cache_dir: Path, overrides: list[str]):
    from aum.train.config import apply_overrides, config_from_dict

    raw = copy.deepcopy(DEMO)
    raw["data"].update(root=str(data_root), cache_dir=str(cache_dir))
    return config_from_dict(apply_overrides(raw, overrides))


def model_description(cfg) -> str:
    from aum.models import get_config

    name = cfg.model.name
    full, depth = get_config(name).depth, cfg.model.config.depth
    return name.replace("_", "-").replace("aum", "AuM") + (f", {depth} of {full} layers (reduced for a CPU demo)"
                                                           if depth != full else f", {depth} layers")


def run(args) -> int:
    from aum.cli.demo_ssl import check_ssl_arguments, run_ssl
    from aum.cli.train import RichProgress
    from aum.data.synth import ensure_keyword_set
    from aum.models import from_pretrained
    from aum.train import run_training

    if args.overrides[:1] == ["ssl"]:
        return run_ssl(args, args.overrides[1:])
    check_ssl_arguments(args)
    started = time.perf_counter()
    out = Path(args.out or "demo_out")
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
    top = model.predict(load(example, model), model.meta["frontend"]["sample_rate"], top_k=3)
    print(f"predict {example.relative_to(out)}: " + ", ".join(f"{label} {score:.2f}" for label, score in top))
    print(f"total time {seconds:.0f} s (target <= {TARGET_SECONDS} s); run folder {out / 'run'}")
    if accuracy < TARGET_ACCURACY or seconds > TARGET_SECONDS:
        # the run itself worked: say it plainly, but do not fail `make demo` over a number
        print("note: below the demo's target on this machine; please report it with the output above")
    return 0


def first_test_file(root: Path) -> Path:
    line = (root / "testing_list.txt").read_text().split()[0]
    return root / line


def load(path: Path, model):
    from aum.audio import load_audio

    return load_audio(path, model.meta["frontend"]["sample_rate"])
