"""The `dbagents` entry point: the hook's plain command line runs without importing click; everything
else is the click command line (`dbagents.cli`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    severity = None
    if args[:1] == ["hook"]:
        from dbagents.hook import plain_call

        severity = plain_call(args)
    if severity is None:
        from dbagents.cli import main as cli_main

        cli_main(args)
        return
    from dbagents.errors import InputError
    from dbagents.hook import run

    try:
        run(severity)
    except InputError as exc:
        sys.stderr.write(f"dbagents: error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("dbagents: interrupted\n")
        sys.exit(130)
