"""`aum serve --checkpoint DIR [--host 127.0.0.1 --port 8000]`: a web page and `POST /predict` for one model."""

from __future__ import annotations

from aum.inference.serve import serve


def register(sub) -> None:
    p = sub.add_parser("serve", help="web page + JSON endpoint to try a model (needs 'aum[serve]')")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. runs/demo/best")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--max-mb", type=float, default=20.0, help="upload size limit in MB (default 20)")
    p.add_argument("--max-pending", type=int, default=8, help="uploads analysed or waiting at once; one more is "
                   "answered 503 (default 8)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.set_defaults(func=run)


def run(args) -> int:
    serve(args.checkpoint, args.host, args.port, max_mb=args.max_mb, top_k=args.top_k, device=args.device,
          max_pending=args.max_pending)
    return 0
