"""`aum export --checkpoint DIR --format onnx|exported-program [--frames N] [--out DIR]`: deployable model files.

The graph maps the normalised fbank to logits (the fbank is not included; `export.json` holds its settings).
After writing, the export is run once against PyTorch and the largest logit difference is printed."""

from __future__ import annotations

from pathlib import Path

from aum.inference.export import export_model, parity
from aum.models import from_pretrained


def register(sub) -> None:
    p = sub.add_parser("export", help="export to ONNX or a torch ExportedProgram (fbank -> logits)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. runs/demo/best")
    p.add_argument("--format", default="onnx", choices=["onnx", "exported-program"])
    p.add_argument("--frames", type=int, default=None, help="fixed input frames (default: the training length)")
    p.add_argument("--scan", default="auto", choices=["auto", "loop", "parallel", "ref"],
                   help="traceable selective scan for Mamba models: loop (per-step, fastest to run), parallel "
                   "(log-depth, quick to export); auto: loop up to 1000 tokens x layers, else parallel")
    p.add_argument("--out", default=None, help="output folder (default: CHECKPOINT/export)")
    p.add_argument("--no-check", action="store_true", help="skip running the export against PyTorch")
    p.set_defaults(func=run)


def run(args) -> int:
    model = from_pretrained(args.checkpoint)
    out = Path(args.out) if args.out else Path(args.checkpoint) / "export"
    path = export_model(model, out, args.format, frames=args.frames, scan=args.scan)
    print(f"wrote {path} (input: normalised fbank; the fbank itself is not in the graph, see {out / 'export.json'})")
    if not args.no_check:
        print(f"max |export - pytorch| logit difference: {parity(model, path, args.frames):.2e}")
    return 0
