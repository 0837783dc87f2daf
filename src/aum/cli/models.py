"""`aum models`: `list [PATTERN]`, `info NAME`, `convert OFFICIAL.pth OUT_DIR --model NAME`, `export-hf DIR OUT`."""

from __future__ import annotations

import dataclasses
import json

import torch

from aum.cli.parsers import add_action, add_actions, add_json_flag
from aum.errors import ConfigError
from aum.models import create_model, from_pretrained, get_config, list_models, load_checkpoint, save_pretrained
from aum.models.huggingface import export_hf
from aum.models.official import checkpoint_fields


def register(sub) -> None:
    actions = add_actions(sub, "models", help="list the model zoo, show a model's config, convert official or "
                          "HuggingFace checkpoints, export to HuggingFace")

    ls = add_action(actions, "list", run_list, help="registered model names with their parameter counts")
    ls.add_argument("pattern", nargs="?", default="*", help="glob, e.g. 'aum_*' (default: all)")

    info = add_action(actions, "info", run_info, help="parameter count, patch grid and full config of one model")
    info.add_argument("name")
    _add_overrides(info)
    add_json_flag(info)

    conv = add_action(actions, "convert", run_convert, help="official .pth (AuM, SSAMBA, AST, SSAST, Vim / DeiT "
                      "ImageNet) or a HuggingFace AST folder -> a save_pretrained folder; prints the load report")
    conv.add_argument("checkpoint", help="official checkpoint (.pth, loaded with weights_only=True) or a folder")
    conv.add_argument("out_dir", help="output folder (model.safetensors + config.json)")
    conv.add_argument("--model", required=True, help="registered name, e.g. aum_base (see 'aum models list')")
    _add_overrides(conv)
    conv.add_argument("--non-strict", action="store_true", help="load what matches instead of failing on "
                      "missing / unexpected / mis-shaped keys or an AuM v1/v2 mismatch (the report lists them)")

    hf = add_action(actions, "export-hf", run_export_hf, help="our AST folder -> a HuggingFace "
                    "ASTForAudioClassification folder (config.json, model.safetensors, preprocessor_config.json)")
    hf.add_argument("model_dir", help="a save_pretrained folder (e.g. a training run's best/)")
    hf.add_argument("out_dir", help="output folder")


def _add_overrides(parser) -> None:
    parser.add_argument("--num-classes", type=int, help="classifier outputs (config num_classes)")
    parser.add_argument("--input-frames", type=int, help="frames the positional embedding is built for")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other config field, e.g. --set aum_type=v2 --set patch_stride=16 --set "
                        "patch_size=128,2 (repeatable); convert also takes checkpoint_stride=F[,T]")


def _parse_value(text: str, default):
    if isinstance(default, (tuple, list)) or (isinstance(default, int) and not isinstance(default, bool)
                                              and "," in text):  # patch_size=128,2 or (128, 2)
        parts = [int(p) for p in text.strip("()[] ").split(",") if p.strip()]
        if len(parts) not in (1, 2):
            raise ConfigError(f"expected F or F,T, got {text!r}")
        return parts[0] if len(parts) == 1 or parts[0] == parts[1] else tuple(parts)
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"expected a boolean, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    return type(default)(text) if isinstance(default, (int, float)) else text


def overrides_from_args(name: str, args) -> dict:
    defaults = get_config(name).to_dict()
    if getattr(args, "func", None) is run_convert:
        defaults["checkpoint_stride"] = (0, 0)  # a load option, not a config field
    out = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in defaults:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(defaults)}")
        out[key] = _parse_value(value, defaults[key])
    if args.num_classes is not None:
        out["num_classes"] = args.num_classes
    if args.input_frames is not None:
        out["input_frames"] = args.input_frames
    return out


def _count(name: str, **overrides) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in create_model(name, **overrides).parameters())


def run_list(args) -> int:
    names = list_models(args.pattern)
    if not names:
        raise ConfigError(f"no model matches {args.pattern!r}")
    print(f"{'name':<14}{'family':<8}{'dim':>5}{'depth':>6}{'params':>14}")
    for name in names:
        cfg = get_config(name)
        print(f"{name:<14}{cfg.family:<8}{cfg.embed_dim:>5}{cfg.depth:>6}{_count(name):>14,}")
    return 0


def run_info(args) -> int:
    overrides = overrides_from_args(args.name, args)
    with torch.device("meta"):
        model = create_model(args.name, **overrides)
    n_f, n_t = model.built_grid
    info = {"name": args.name, "family": model.config.family, "params": sum(p.numel() for p in model.parameters()),
            "patch_grid": [n_f, n_t], "tokens": n_f * n_t + model.num_prefix_tokens,
            "config": dataclasses.asdict(model.config)}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.name} ({info['family']}): {info['params']:,} parameters, patch grid {n_f} x {n_t} "
          f"({info['tokens']} tokens with {model.num_prefix_tokens} special)")
    for key, value in info["config"].items():
        print(f"  {key:<18} {value}")
    return 0


def run_convert(args) -> int:
    overrides = overrides_from_args(args.model, args)
    stride = overrides.pop("checkpoint_stride", None)
    found = checkpoint_fields(args.model, args.checkpoint, overrides, stride)  # patch shape, tokens, unique stride
    if found:
        print(f"taken from the checkpoint: {found}")
    model = create_model(args.model, **{**found, **overrides})
    report = load_checkpoint(model, args.checkpoint, strict=not args.non_strict, checkpoint_stride=stride)
    print(report)
    out = save_pretrained(model, args.out_dir, meta={**model.meta, "converted_from": str(args.checkpoint)})
    print(f"wrote {out}/model.safetensors and config.json ({args.model})")
    return 0


def run_export_hf(args) -> int:
    out = export_hf(from_pretrained(args.model_dir), args.out_dir)
    print(f"wrote {out}/config.json, model.safetensors and preprocessor_config.json (ASTForAudioClassification)")
    return 0
