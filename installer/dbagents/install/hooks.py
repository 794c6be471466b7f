"""`--with-hooks`: the `dbagents hook` PostToolUse entry, merged into `.claude/settings.json`.

Claude Code reads hooks from the settings file beside the agents (`.claude/settings.json` of the project, or
`~/.claude/settings.json` for the user scope). dbagents appends one matcher group to `hooks.PostToolUse` and
records it in its manifest; every other key and hook in the file is kept as it is. Uninstall removes that group
only while it is still exactly as dbagents wrote it (a group you edited is yours).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

from dbagents.errors import InputError
from dbagents.hook import HOOK_COMMAND, HOOK_MATCHER
from dbagents.install.mcp import read_json_object
from dbagents.install.target import Target, safe_destination

SETTINGS_FILE = "settings.json"
EVENT = "PostToolUse"
HOOK_GROUP = {"matcher": HOOK_MATCHER, "hooks": [{"type": "command", "command": HOOK_COMMAND, "timeout": 60}]}


@dataclass
class HooksPlan:
    path: Path
    present: bool  # a PostToolUse hook already runs `dbagents hook` (ours or the user's): nothing to add
    new_bytes: bytes | None = None
    created_file: bool = False


def read_settings(path: Path) -> dict:
    """The settings file as a JSON object ({} when absent or empty); anything else is an input error."""
    return read_json_object(path)


def _groups(doc: dict, path: Path) -> list:
    hooks = doc.get("hooks", {})
    if not isinstance(hooks, dict):
        raise InputError("'hooks' must be a JSON object; fix it and run again", path=str(path))
    groups = hooks.get(EVENT, [])
    if not isinstance(groups, list):
        raise InputError(f"'hooks.{EVENT}' must be a JSON array; fix it and run again", path=str(path))
    return groups


def runs_our_hook(group) -> bool:
    return isinstance(group, dict) and any(
        isinstance(h, dict) and str(h.get("command", "")).strip() == HOOK_COMMAND for h in group.get("hooks") or [])


def _dump(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def plan_hooks(target: Target) -> HooksPlan:
    path = safe_destination(target, SETTINGS_FILE, "the settings file")
    doc = read_settings(path)
    groups = _groups(doc, path)
    if any(runs_our_hook(g) for g in groups):
        return HooksPlan(path, present=True)
    merged = dict(doc)
    merged["hooks"] = {**(doc.get("hooks") or {}), EVENT: [*groups, copy.deepcopy(HOOK_GROUP)]}
    return HooksPlan(path, present=False, new_bytes=_dump(merged), created_file=not path.exists())


def remove_hook(path: Path, entry: dict, created_file: bool) -> tuple[str, bytes | None, bool]:
    """For uninstall: ('removed' | 'changed' | 'gone', new content or None, delete the file)."""
    doc = read_settings(path)
    try:
        groups = _groups(doc, path)
    except InputError:
        return "changed", None, False
    if entry not in groups:
        return ("changed" if any(runs_our_hook(g) for g in groups) else "gone"), None, False
    rest = [g for g in groups if g != entry]
    hooks = dict(doc["hooks"])
    if rest:
        hooks[EVENT] = rest
    else:
        hooks.pop(EVENT)
    new_doc = dict(doc)
    if hooks:
        new_doc["hooks"] = hooks
    else:
        new_doc.pop("hooks")
    if created_file and not new_doc:
        return "removed", None, True
    return "removed", _dump(new_doc), False


def hook_state(target: Target, recorded: dict) -> str:
    """For status: installed | changed by you | missing | not installed (| unreadable)."""
    path = target.claude_dir / SETTINGS_FILE
    try:
        groups = _groups(read_settings(path), path)
    except InputError:
        return "unreadable settings file"
    if recorded.get("entry") in groups:
        return "installed"
    if any(runs_our_hook(g) for g in groups):
        return "changed by you" if recorded else "configured by you"
    return "missing" if recorded else "not installed"
