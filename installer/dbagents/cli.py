"""The `dbagents` command line. Subcommands live in their own modules and are imported lazily."""

from __future__ import annotations

import importlib
import sys

import click

from dbagents import __version__
from dbagents.errors import InputError

# name -> "module:attribute" of a click command; imported only when that subcommand runs.
SUBCOMMANDS = {
    "install": ("dbagents.install.cli:install_cmd", "Copy the agents, commands and context docs into .claude/."),
    "uninstall": ("dbagents.install.cli:uninstall_cmd", "Remove the files dbagents installed (never user edits)."),
    "status": ("dbagents.install.cli:status_cmd", "Show installed components and their state."),
    "validate": ("dbagents.validate.cli:validate_cmd", "Check agents, commands, skills and plugins as Claude Code reads them."),
    "check": ("dbagents.check.cli:check_cmd", "Check models, migrations, raw SQL and (live) PostgreSQL schemas."),
    "rules": ("dbagents.check.cli:rules_cmd", "List the rules of `dbagents check`."),
    "rule": ("dbagents.check.cli:rule_cmd", "Print one rule's documentation, e.g. `dbagents rule DBA104`."),
    "hook": ("dbagents.hook_cli:hook_cmd", "Claude Code PostToolUse hook: check the file Claude just edited."),
    "doctor": ("dbagents.doctor:doctor_cmd", "Tell what works in this setup and what to fix."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        target = SUBCOMMANDS[name][0]
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_text) for name, (_, help_text) in SUBCOMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="dbagents")
def cli():
    """Claude Code database agents for SQLAlchemy 2.x, Alembic and PostgreSQL, and the checker behind them."""


def main(argv=None):
    """Entry point: InputError becomes one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="dbagents", standalone_mode=False)
    except InputError as exc:
        click.echo(f"dbagents: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("dbagents: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("dbagents: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(0)
