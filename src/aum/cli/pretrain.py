"""`aum pretrain` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("pretrain", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum pretrain' is not implemented yet")
