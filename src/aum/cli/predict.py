"""`aum predict` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("predict", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum predict' is not implemented yet")
