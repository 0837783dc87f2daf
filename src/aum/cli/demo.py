"""`aum demo` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("demo", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum demo' is not implemented yet")
