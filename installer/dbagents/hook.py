"""`dbagents hook`: a Claude Code PostToolUse hook that checks the file Claude just edited.

Claude Code runs it after Edit/Write (settings: `{"matcher": "Edit|Write", "hooks": [{"type": "command",
"command": "dbagents hook"}]}`) with the hook JSON on stdin (`tool_name`, `tool_input.file_path`, `cwd`, ...).
Only that file is judged; facts (models declared elsewhere, the revision graph) come from the whole project,
read from the result cache like `dbagents check --only-files`. The project's baseline hides what it lists.

Findings go to stderr with exit code 2: for PostToolUse, Claude Code hands that text to the model next to the
tool result (the edit itself is already done). A clean file, a file that is not Python/Alembic configuration,
or a tool call without a file path: nothing printed, exit 0.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from dbagents.errors import InputError

HOOK_COMMAND = "dbagents hook"
HOOK_MATCHER = "Edit|Write"
MAX_LISTED = 20  # findings spelled out per edit; the rest are counted
SEVERITIES = ("info", "warning", "error")
DEFAULT_SEVERITY = "warning"


def edited_file(payload: dict) -> tuple[Path | None, Path]:
    """The file a PostToolUse payload names (None when there is none) and the session's cwd."""
    cwd = payload.get("cwd")
    here = Path(cwd) if isinstance(cwd, str) and os.path.isdir(cwd) else Path.cwd()
    tool_input = payload.get("tool_input")
    name = tool_input.get("file_path") or tool_input.get("notebook_path") if isinstance(tool_input, dict) else None
    if not isinstance(name, str) or not name:
        return None, here
    path = Path(name) if os.path.isabs(name) else here / name
    return path, here


def read_payload(text: str) -> dict:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the hook input on stdin is not JSON ({exc.msg} at line {exc.lineno}); "
                         "run `dbagents hook` only as a Claude Code PostToolUse hook") from None
    if not isinstance(payload, dict):
        raise InputError("the hook input on stdin must be a JSON object (Claude Code's PostToolUse input)")
    return payload


def check_file(path: Path, threshold, cwd: Path) -> tuple[list, Path, object]:
    """Findings in `path` at or above `threshold` (paths relative to the returned project root), facts from
    the whole project (warm cache), baseline applied; and the engine's outcome, which the caller may leave
    to the end of the process rather than free.

    The project is the one `dbagents check` would use from the session's cwd (config folder, else git top
    level, else the cwd itself); a file outside the cwd is judged in the project around the file."""
    from dbagents.check import changed
    from dbagents.check.adopt import adopt
    from dbagents.check.baseline import project_root
    from dbagents.check.engine import check_tree
    from dbagents.check.registry import selected_ids
    from dbagents.config import load_config

    config = load_config(path)
    real, here = path.resolve(), cwd.resolve()
    root = project_root(config, here if here in real.parents else real.parent).resolve()
    scope = changed.named([path])
    config.in_progress = frozenset(scope.files)  # a revision Claude is editing is never "past"
    enabled = selected_ids([], config.select, config.ignore, static_only=True)  # the static engine's rules
    outcome = check_tree([root], root=root, config=config, enabled=enabled, use_cache=config.cache, focus=path)
    adopted = adopt(list(outcome.findings), outcome, scope, root=root, config=config, enabled=enabled,
                    baseline_option=None, use_baseline=True)
    kept = [f for f in adopted.findings if f.severity >= threshold]
    return sorted(kept, key=lambda f: (f.line, f.col, f.rule_id)), root, outcome


def feedback(found: list, root: Path, cwd: Path) -> str:
    """What Claude reads: one gcc-style line per finding (paths relative to the session's cwd), with the hint,
    then what to do."""
    from dbagents.reporting.paths import display_path

    shown = display_path(found[0].path, root, cwd)
    lines = [f"dbagents found {len(found)} database issue{'s' * (len(found) != 1)} in {shown} after this edit:"]
    for f in found[:MAX_LISTED]:
        line = f"{display_path(f.path, root, cwd)}:{f.line}:{f.col}: {f.rule_id} {f.severity.label}: {f.message}"
        if f.hint:
            line += f" (fix: {f.hint})"
        lines.append(line)
    if len(found) > MAX_LISTED:
        lines.append(f"... and {len(found) - MAX_LISTED} more: run `dbagents check {shown}` for all of them.")
    rules = sorted({f.rule_id for f in found})
    lines.append(f"Fix them in this file (`dbagents rule {rules[0]}` explains a rule), or add `# noqa: RULE` "
                 "with a reason where a finding is wrong.")
    return "\n".join(lines) + "\n"


def run(min_severity: str = DEFAULT_SEVERITY) -> NoReturn:
    """Check the file the PostToolUse input on stdin names; findings go back to Claude (exit 2).

    Runs without click (see `dbagents.entry`): the hook starts after every edit, and importing click alone
    costs a few milliseconds each time."""
    # A short process: the cyclic collector would only re-scan the hundreds of thousands of objects the
    # imports and the cache create, again and again (a tenth of the round trip).
    gc.disable()
    from dbagents.check.discover import file_kind
    from dbagents.findings import Severity

    payload = read_payload(sys.stdin.read())
    path, cwd = edited_file(payload)
    if path is None or file_kind(path) is None or not path.is_file():
        sys.exit(0)
    found, root, _outcome = check_file(path, Severity.parse(min_severity), cwd)  # alive until the exit
    _leave(2 if found else 0, feedback(found, root, cwd) if found else "")


def plain_call(args: list[str]) -> str | None:
    """The severity of a `hook` or `hook --min-severity LEVEL` command line, else None (anything else, such
    as `--help` or a mistake, goes through click)."""
    if args[:1] != ["hook"]:
        return None
    rest = args[1:]
    if not rest:
        return DEFAULT_SEVERITY
    if len(rest) == 1 and rest[0].startswith("--min-severity="):
        rest = rest[0].split("=", 1)
    if len(rest) == 2 and rest[0] == "--min-severity" and rest[1] in SEVERITIES:
        return rest[1]
    return None


def _leave(code: int, message: str) -> NoReturn:
    """Say `message` on stderr and end the process now: the run's facts and results are not freed object by
    object, nor the interpreter torn down (a tenth of a warm round trip). Nothing is left unwritten: the
    cache was written and closed by the engine, and both streams are flushed."""
    sys.stderr.write(message)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
