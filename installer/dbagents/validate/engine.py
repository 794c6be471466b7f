"""Run the validator: discover -> read each file once -> per-file checks -> set checks -> findings."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dbagents.findings import Finding, Severity
from dbagents.validate.discover import AGENT, COMMAND, SKILL, Discovery, Scope, discover
from dbagents.validate.documents import Document, read_document
from dbagents.validate.fields import check_fields
from dbagents.validate.manifests import check_manifest
from dbagents.validate.references import check_references


def report_root(paths: list[Path]) -> Path:
    """The folder finding paths are relative to: the cwd when every input is inside it, else their common parent."""
    cwd = Path(os.path.abspath(Path.cwd()))
    resolved = [Path(os.path.abspath(p)) for p in paths] or [cwd]
    if all(_inside(p, cwd) for p in resolved):
        return cwd
    folders = [(p.parent if p.name == ".claude" else p) if p.is_dir() else p.parent for p in resolved]
    return Path(os.path.commonpath([str(f) for f in folders]))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _rel(path: Path, root: Path) -> str:
    resolved = Path(os.path.abspath(path))
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.as_posix()


def validate(paths: list[Path], *, forced_kind: str | None = None, root: Path | None = None) -> list[Finding]:
    root = Path(os.path.abspath(root or report_root(paths)))
    found = discover([Path(p) for p in paths], forced_kind)
    findings: list[Finding] = []
    for missing in found.missing:
        findings.append(Finding(_rel(missing, root), 0, 0, "CC009", "path does not exist", Severity.ERROR))
    for path, kind, _scope in found.manifests:
        findings += check_manifest(path, kind, _rel(path, root))
    docs = [read_document(item, _rel(item.path, root)) for item in found.items]
    command_names = _command_names(found, docs)
    servers: dict[int, frozenset] = {}
    for doc in docs:
        scope = doc.item.scope
        if id(scope) not in servers:
            servers[id(scope)] = configured_servers(scope)
        own = _agent_defined_servers(doc.data)
        check_fields(doc, servers[id(scope)] | own)
        check_references(doc, command_names)
        findings += doc.findings
    findings += _set_checks(found, docs, root)
    return sorted(set(findings))


def _command_names(found: Discovery, docs: list[Document]) -> frozenset:
    names = set()
    for doc in docs:
        item = doc.item
        if item.kind in (COMMAND, SKILL) and item.command_name:
            names.add(item.command_name)
            names.add(item.command_name.split(":")[-1])
            if item.scope.plugin_name:
                names.add(f"{item.scope.plugin_name}:{item.command_name}")
            if item.kind == SKILL and isinstance(doc.data.get("name"), str):
                names.add(doc.data["name"])
    home = Path.home() / ".claude"
    for sub in ("commands", "skills"):
        folder = home / sub
        if folder.is_dir():
            try:
                names.update(p.stem if sub == "commands" else p.name for p in folder.iterdir())
            except OSError:
                pass
    return frozenset(names)


def _read_json(path: Path):
    try:
        if path.stat().st_size > 4 * 1024 * 1024:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _server_keys(data) -> set[str]:
    out: set[str] = set()
    if isinstance(data, dict):
        for key in ("mcpServers",):
            if isinstance(data.get(key), dict):
                out.update(str(k) for k in data[key])
        for key in ("enabledMcpjsonServers",):
            if isinstance(data.get(key), list):
                out.update(str(k) for k in data[key] if isinstance(k, (str, int)))
    return out


def configured_servers(scope: Scope) -> frozenset:
    """MCP server names the runtime could see for files in this scope."""
    names: set[str] = set()
    home = Path.home()
    user_config = _read_json(home / ".claude.json")
    names |= _server_keys(user_config)
    names |= _server_keys(_read_json(home / ".claude" / "settings.json"))
    if scope.kind == "claude":
        if scope.project_root is not None:
            names |= _server_keys(_read_json(scope.project_root / ".mcp.json"))
            if isinstance(user_config, dict) and isinstance(user_config.get("projects"), dict):
                names |= _server_keys(user_config["projects"].get(str(scope.project_root.resolve())))
        for name in ("settings.json", "settings.local.json"):
            names |= _server_keys(_read_json(scope.claude_dir / name))
    elif scope.kind == "plugin":
        names |= _server_keys(_read_json(scope.root / ".mcp.json"))
        manifest = scope.manifest or {}
        servers = manifest.get("mcpServers")
        for value in servers if isinstance(servers, list) else [servers]:
            if isinstance(value, dict):
                names |= set(value) if "mcpServers" not in value else _server_keys(value)
            elif isinstance(value, str) and value.startswith("./"):
                data = _read_json(scope.root / value)
                names |= _server_keys(data) | (set(data) if isinstance(data, dict) and "mcpServers" not in data else set())
        plugin = scope.plugin_name
        names |= {f"plugin_{plugin}_{n}" for n in names}
    return frozenset(names)


def _agent_defined_servers(data: dict) -> frozenset:
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    out = set()
    if isinstance(servers, list):
        for entry in servers:
            if isinstance(entry, dict):
                out.update(str(k) for k in entry)
    return frozenset(out)


def _set_checks(found: Discovery, docs: list[Document], root: Path) -> list[Finding]:
    out: list[Finding] = []
    by_name: dict[tuple[int, str], list[Document]] = {}
    for doc in docs:
        if doc.item.kind != AGENT or doc.fields_lost or doc.item.scope.kind == "loose":
            continue
        name = doc.data.get("name")
        if not isinstance(name, str) or not name.strip():
            if doc.item.scope.kind != "plugin":
                continue
            name = doc.item.path.stem
        by_name.setdefault((id(doc.item.scope), name.strip()), []).append(doc)
    for (_scope, name), group in by_name.items():
        if len(group) < 2:
            continue
        for doc in group:
            others = ", ".join(d.rel for d in group if d is not doc)
            out.append(Finding(doc.rel, doc.line_of("name"), 0, "CC032",
                               f"agent name `{name}` is also used by {others}; only one of them can be used",
                               Severity.ERROR, "give each agent a unique name"))
    skills: dict[tuple[int, str], Document] = {}
    for doc in docs:
        if doc.item.kind == SKILL:
            skills[(id(doc.item.scope), doc.item.command_name)] = doc
    for doc in docs:
        if doc.item.kind == COMMAND:
            skill = skills.get((id(doc.item.scope), doc.item.command_name))
            if skill is not None:
                out.append(Finding(doc.rel, 1, 1, "CC033",
                                   f"command `/{doc.item.command_name}` is shadowed by skill {skill.rel}; Claude Code "
                                   "loads the skill and drops this command", Severity.ERROR,
                                   "rename or remove one of them"))
    for folder, _scope in found.skill_dirs_without_md:
        try:
            entries = sorted(p.name for p in folder.iterdir())
        except OSError:
            continue
        if not entries:
            continue
        near = next((n for n in entries if n.lower() == "skill.md"), None)
        hint = f"rename {near} to SKILL.md" if near else "add SKILL.md with the skill's instructions"
        out.append(Finding(_rel(folder, root), 0, 0, "CC034",
                           f"skill folder `{folder.name}` has no SKILL.md; Claude Code skips it", Severity.ERROR, hint))
    return out
