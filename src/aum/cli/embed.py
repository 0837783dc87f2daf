"""`aum embed FILE_OR_DIR --checkpoint DIR --out DIR`: clip and per-token embeddings as .npy files."""

from __future__ import annotations

from pathlib import Path

from aum.devices import resolve_device
from aum.errors import ConfigError
from aum.inference.predict import audio_paths, embed_files
from aum.models import from_pretrained


def register(sub) -> None:
    p = sub.add_parser("embed", help="clip embeddings (+ per-token embeddings) to .npy")
    p.add_argument("path", help="an audio file or a folder of them")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. runs/demo/best")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--whole", action="store_true", help="one long sequence instead of windows")
    p.add_argument("--no-tokens", action="store_true", help="write clip embeddings only")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.set_defaults(func=run)


def run(args) -> int:
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ConfigError(f"--out {args.out}: exists and is not a folder (embeddings are written into a folder)")
    model = from_pretrained(args.checkpoint).to(resolve_device(args.device))
    root = Path(args.path)
    result = embed_files(model, audio_paths(root), Path(args.out), root if root.is_dir() else root.parent,
                         whole=args.whole, tokens=not args.no_tokens)
    print(f"{result['written']} file(s) embedded into {args.out} (<name>.clip.npy (D,)"
          + ("" if args.no_tokens else ", <name>.tokens.npy (windows, tokens, D)") + ")")
    if result["bad_files"]:
        print(f"{len(result['bad_files'])} file(s) skipped (unreadable): "
              + ", ".join(b["file"] for b in result["bad_files"]))
    return 0 if result["written"] else 1
