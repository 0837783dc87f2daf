"""`aum train` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("train", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum train' is not implemented yet")
