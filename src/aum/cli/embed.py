"""`aum embed` (placeholder: not implemented yet)."""


def register(sub) -> None:
    p = sub.add_parser("embed", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise RuntimeError("'aum embed' is not implemented yet")
