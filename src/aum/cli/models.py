"""`aum models` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("models", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum models' is not implemented yet")
