"""The ``chainrule`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import compare, demo, evaluate, graph, info, playground, predict, sweep, train

_SUBCOMMANDS = (train, evaluate, predict, info, sweep, compare, demo, graph, playground)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: neural networks from the chain rule up.",
        epilog="Run `chainrule COMMAND --help` for a command's options and examples.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _SUBCOMMANDS:
        module.register(sub)
    for command in sub.choices.values():  # each module's docstring, read as plain text
        if command.description:
            command.description = command.description.replace("``", "")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    for module in _SUBCOMMANDS:  # a subcommand may protect words argparse would misread
        prepare = getattr(module, "prepare_argv", None)
        if prepare is not None:
            argv = prepare(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run_command(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C outside training (which says itself what it saved)
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
