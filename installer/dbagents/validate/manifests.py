"""plugin.json and marketplace.json: JSON syntax, JSON Schema, names and the paths they point to (spec §6);
hook files (a plugin's hooks/hooks.json, the `hooks` of .claude/settings*.json): JSON syntax and shape (§5)."""

from __future__ import annotations

import json
import re
from difflib import get_close_matches
from pathlib import Path

from dbagents.findings import Finding, Severity
from dbagents.validate.schema_check import load_schema, schema_errors

_KEBAB_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_COMPONENT_KEYS = ("commands", "agents", "skills", "outputStyles", "hooks", "mcpServers", "lspServers")


def _json_line(text: str, path: tuple) -> int:
    """Best-effort line of the first key in `path` (JSON has no positions after parsing)."""
    for part in reversed(path):
        if isinstance(part, str):
            match = re.search(r'"%s"\s*:' % re.escape(part), text)
            if match:
                return text.count("\n", 0, match.start()) + 1
    return 1


_LOADS = {"plugin": "the plugin", "marketplace": "the marketplace", "hooks": "these hooks",
          "settings": "this settings file"}


def check_manifest(path: Path, kind: str, rel: str) -> list[Finding]:
    findings: list[Finding] = []
    rule = {"plugin": "CC051", "marketplace": "CC052"}.get(kind, "CC055")
    try:
        if path.stat().st_size > 1024 * 1024:
            return [Finding(rel, 0, 0, "CC007", "file is over 1 MiB; refused", Severity.ERROR)]
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        return [Finding(rel, 0, 0, "CC009", f"cannot read the file: {exc.strerror or exc}", Severity.ERROR)]
    except UnicodeDecodeError:
        return [Finding(rel, 0, 0, "CC009", "file is not UTF-8", Severity.ERROR, "re-save it as UTF-8")]
    except json.JSONDecodeError as exc:
        return [Finding(rel, exc.lineno, exc.colno, "CC050", f"invalid JSON: {exc.msg}; Claude Code cannot load "
                        f"{_LOADS[kind]}", Severity.ERROR, "fix the JSON syntax at this position")]
    if kind in ("hooks", "settings"):
        return check_hooks(data, kind, text, rel)
    for where, message in schema_errors(kind, data):
        findings.append(Finding(rel, _json_line(text, where), 0, rule, f"{kind}.json: {message}", Severity.ERROR))
    if not isinstance(data, dict):
        return findings
    name = data.get("name")
    if isinstance(name, str) and " " not in name and not _KEBAB_RE.match(name):
        findings.append(Finding(rel, _json_line(text, ("name",)), 0, "CC053", f"{kind} name `{name}` is not kebab-case",
                                Severity.WARNING, "use lowercase words joined by hyphens"))
    root = path.parent.parent
    if kind == "plugin":
        findings += _component_paths(data, root, text, rel)
    else:
        findings += _plugin_sources(data, root, text, rel)
    return findings


def _paths_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _component_paths(data: dict, root: Path, text: str, rel: str) -> list[Finding]:
    out = []
    for key in _COMPONENT_KEYS:
        for value in _paths_of(data.get(key)):
            if not value.startswith("./") or ".." in Path(value).parts:
                continue  # the schema already reports the form
            if not (root / value).exists():
                out.append(Finding(rel, _json_line(text, (key,)), 0, "CC054",
                                   f"`{key}` path `{value}` does not exist in the plugin", Severity.ERROR,
                                   "fix the path (relative to the plugin root, starting with ./)"))
    return out


def _plugin_sources(data: dict, root: Path, text: str, rel: str) -> list[Finding]:
    out = []
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    base = root / meta["pluginRoot"] if isinstance(meta.get("pluginRoot"), str) else root
    for entry in data.get("plugins") if isinstance(data.get("plugins"), list) else []:
        source = entry.get("source") if isinstance(entry, dict) else None
        if isinstance(source, str) and source.startswith("./") and ".." not in Path(source).parts:
            if not (base / source).is_dir():
                out.append(Finding(rel, _json_line(text, ("source",)), 0, "CC054",
                                   f"plugin `{entry.get('name')}` source `{source}` is not a folder in the marketplace",
                                   Severity.ERROR, "fix the relative path"))
    return out


def check_hooks(data, kind: str, text: str, rel: str) -> list[Finding]:
    """A hooks file's shape (`{"hooks": {Event: [{matcher, hooks: [{type, command, ...}]}]}}`), or the `hooks` of a
    settings file; a command hook without a command does nothing."""
    if kind == "settings":
        if not isinstance(data, dict) or "hooks" not in data:
            return []
        data, schema, prefix = data["hooks"], "hooks", ("hooks",)
    else:
        schema, prefix = "hooks-file", ()
    findings = []
    events = data.get("hooks") if kind == "hooks" and isinstance(data, dict) else data
    known = load_schema("hooks")["propertyNames"]["enum"]
    for event in events if isinstance(events, dict) else ():
        if event not in known:
            close = get_close_matches(event, known, n=1)
            findings.append(Finding(rel, _json_line(text, (event,)), 0, "CC055",
                                    f"hooks: `{event}` is not a hook event; Claude Code rejects the hooks",
                                    Severity.ERROR, f"did you mean {close[0]}?" if close else
                                    "use an event such as PreToolUse, PostToolUse, Stop or SessionStart"))
    for where, message in schema_errors(schema, data):
        if "expected one of PreToolUse" in message:
            continue  # an unknown event name: said above, with the name
        findings.append(Finding(rel, _json_line(text, prefix + where), 0, "CC055", f"hooks: {message}",
                                Severity.ERROR, "see the event names and entry fields in the hooks reference"))
    for event, groups in (events.items() if isinstance(events, dict) else ()):
        for group in groups if isinstance(groups, list) else ():
            for hook in group.get("hooks") or [] if isinstance(group, dict) else ():
                if isinstance(hook, dict) and hook.get("type") == "command" and not str(hook.get("command") or "").strip():
                    findings.append(Finding(rel, _json_line(text, (event,)), 0, "CC055",
                                            f"hooks: a `command` hook of {event} has no `command` to run",
                                            Severity.ERROR, "add the shell command to run, or remove the entry"))
    return findings
