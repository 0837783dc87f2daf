"""`aum bench` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("bench", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum bench' is not implemented yet")
