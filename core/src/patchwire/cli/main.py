"""Entry point of the ``patchwire`` command.

Subcommands come from the ``patchwire_register_commands`` hook (core's own included), so
``patchwire --help`` loads plugin entry points but none of their connector internals.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from patchwire import __version__
from patchwire.errors import PatchwireError

if TYPE_CHECKING:
    from patchwire.plugins import PluginHost

__all__ = ["build_parser", "main"]


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    from patchwire.plugins import default_host

    parser = argparse.ArgumentParser(
        prog="patchwire",
        description="Calls to AI providers and tools that behave like production code.",
    )
    parser.add_argument("--version", action="version", version=f"patchwire {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in sorted(
        (host or default_host()).registries.commands.values(), key=lambda c: c.name
    ):
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None, host: PluginHost | None = None) -> int:
    parser = build_parser(host)
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args))
    except PatchwireError as exc:
        print(f"patchwire {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
