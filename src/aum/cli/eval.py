"""`aum eval` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("eval", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum eval' is not implemented yet")
