"""The click form of `dbagents hook` (help, option errors); a plain call skips it (see `dbagents.entry`)."""

from __future__ import annotations

import click

from dbagents.hook import DEFAULT_SEVERITY, SEVERITIES, run


@click.command("hook", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--min-severity", type=click.Choice(SEVERITIES), default=DEFAULT_SEVERITY, show_default=True,
              help="Report findings at or above this severity.")
def hook_cmd(min_severity):
    """Claude Code PostToolUse hook: check the file Claude edited; findings go back to Claude (exit 2)."""
    run(min_severity)
