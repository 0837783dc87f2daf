"""Argparse helpers the sub-command modules share: a command with actions (`aum data stats ...`, `aum models list`)
and the options several commands take."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_actions(sub, command: str, help: str):
    """The parser of `aum COMMAND ACTION ...`; returns its table of actions (argparse's sub-parsers action; one
    action is required)."""
    parser = sub.add_parser(command, help=help)
    return parser.add_subparsers(dest=f"{command}_command", metavar="ACTION", required=True)


def add_action(actions, name: str, run: Callable, help: str, **parser_options) -> argparse.ArgumentParser:
    """One action (or a command without actions): its parser, dispatched to `run(args)`."""
    parser = actions.add_parser(name, help=help, **parser_options)
    parser.set_defaults(func=run)
    return parser


def add_json_flag(parser: argparse.ArgumentParser, instead_of: str = "text") -> None:
    parser.add_argument("--json", action="store_true", help=f"print JSON instead of {instead_of}")
