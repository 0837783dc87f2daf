"""`aum data` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("data", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum data' is not implemented yet")
