"""Find what to validate: `.claude` folders, plugins, marketplaces and loose files, each in its scope."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"}
AGENT, COMMAND, SKILL = "agent", "command", "skill"


SETTINGS_FILES = ("settings.json", "settings.local.json")  # hooks live under their "hooks" key

@dataclass(eq=False)
class Scope:
    """A set of files Claude Code loads together: one `.claude` folder, one plugin, or loose files."""

    kind: str  # "claude" | "plugin" | "loose"
    root: Path  # the .claude folder, the plugin root, or the folder holding loose files
    project_root: Path | None = None  # where `@path` mentions resolve (parent of .claude)
    claude_dir: Path | None = None  # where `.claude/...` mentions resolve
    plugin_name: str = ""
    manifest: dict | None = None


@dataclass(eq=False)
class Item:
    path: Path
    kind: str
    scope: Scope
    command_name: str = ""  # commands: `sub:file`; skills: folder name


@dataclass
class Discovery:
    items: list[Item] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    # (path, "plugin" | "marketplace" | "hooks" (a plugin's hooks file) | "settings" (.claude/settings*.json), scope)
    manifests: list[tuple[Path, str, Scope]] = field(default_factory=list)
    skill_dirs_without_md: list[tuple[Path, Scope]] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)


def _md_files(folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out.extend(Path(dirpath, name) for name in sorted(filenames) if name.endswith(".md"))
    return out


def _command_name(path: Path, commands_dir: Path) -> str:
    rel = path.relative_to(commands_dir).with_suffix("")
    return ":".join(rel.parts)


class _Collector:
    def __init__(self) -> None:
        self.found = Discovery()
        self.seen: set[Path] = set()
        self.done_roots: set[Path] = set()  # scope roots already handled, so a walk does not redo them

    def add(self, path: Path, kind: str, scope: Scope, command_name: str = "") -> None:
        key = Path(os.path.abspath(path))
        if key in self.seen:
            return
        self.seen.add(key)
        self.found.items.append(Item(path, kind, scope, command_name))

    def add_agents(self, folder: Path, scope: Scope) -> None:
        for path in _md_files(folder):
            self.add(path, AGENT, scope)

    def add_commands(self, folder: Path, scope: Scope) -> None:
        for path in _md_files(folder):
            self.add(path, COMMAND, scope, _command_name(path, folder))

    def add_skills(self, folder: Path, scope: Scope) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIP_DIRS)
        except OSError:
            return
        for child in children:
            skill_md = child / "SKILL.md"
            if skill_md.is_file():
                self.add(skill_md, SKILL, scope, child.name)
            else:
                self.found.skill_dirs_without_md.append((child, scope))

    # --- scopes ---------------------------------------------------------------------------------
    def claude_folder(self, folder: Path) -> None:
        if not self._first_visit(folder):
            return
        named = folder.name == ".claude"
        scope = Scope("claude", folder, folder.parent if named else None, folder)
        self.found.scopes.append(scope)
        if (folder / "agents").is_dir():
            self.add_agents(folder / "agents", scope)
        if (folder / "commands").is_dir():
            self.add_commands(folder / "commands", scope)
        if (folder / "skills").is_dir():
            self.add_skills(folder / "skills", scope)
        for name in SETTINGS_FILES:
            if (folder / name).is_file():
                self.found.manifests.append((folder / name, "settings", scope))

    def _first_visit(self, folder: Path) -> bool:
        key = folder.resolve()
        if key in self.done_roots:
            return False
        self.done_roots.add(key)
        return True

    def plugin(self, root: Path) -> None:
        if not self._first_visit(root):
            return
        manifest_path = root / ".claude-plugin" / "plugin.json"
        manifest = _read_json_quietly(manifest_path)
        name = manifest.get("name") if isinstance(manifest, dict) and isinstance(manifest.get("name"), str) else root.name
        scope = Scope("plugin", root, None, None, name, manifest if isinstance(manifest, dict) else None)
        self.found.scopes.append(scope)
        if manifest_path.is_file():
            self.found.manifests.append((manifest_path, "plugin", scope))
        custom = manifest if isinstance(manifest, dict) else {}
        hook_files = [root / "hooks" / "hooks.json"] + [
            root / rel for rel in _manifest_paths(custom.get("hooks")) if rel.endswith(".json")]
        for hook_file in dict.fromkeys(hook_files):
            if hook_file.is_file() and _inside(hook_file.resolve(), root.resolve()):
                self.found.manifests.append((hook_file, "hooks", scope))
        for key, adder, replaces in (("agents", self.add_agents, True), ("commands", self.add_commands, True),
                                     ("skills", self.add_skills, False)):
            default = root / key
            paths = _manifest_paths(custom.get(key))
            if not paths or not replaces:
                if default.is_dir():
                    adder(default, scope)
            for rel in paths:
                target = (root / rel).resolve()
                if not _inside(target, root.resolve()):
                    continue
                if key == "skills" and (target / "SKILL.md").is_file():
                    self.add(target / "SKILL.md", SKILL, scope, target.name)
                elif target.is_dir():
                    adder(target, scope)
                elif target.is_file() and target.suffix == ".md":
                    kind = {"agents": AGENT, "commands": COMMAND, "skills": SKILL}[key]
                    self.add(target, kind, scope, target.parent.name if kind == SKILL else target.stem)

    def marketplace(self, root: Path) -> None:
        path = root / ".claude-plugin" / "marketplace.json"
        scope = Scope("plugin", root, None, None, root.name)
        self.found.manifests.append((path, "marketplace", scope))
        data = _read_json_quietly(path)
        if not isinstance(data, dict):
            return
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        base = root / meta["pluginRoot"] if isinstance(meta.get("pluginRoot"), str) else root
        for entry in data.get("plugins") or []:
            source = entry.get("source") if isinstance(entry, dict) else None
            if isinstance(source, str) and source.startswith("./") and ".." not in Path(source).parts:
                plugin_root = (base / source).resolve()
                if plugin_root.is_dir() and _inside(plugin_root, root.resolve()) and plugin_root != root.resolve():
                    self.plugin(plugin_root)

    def directory(self, folder: Path) -> None:
        plugin_dir = folder / ".claude-plugin"
        if (plugin_dir / "marketplace.json").is_file():
            self.marketplace(folder)
            if (plugin_dir / "plugin.json").is_file():
                self.plugin(folder)
            self.walk(folder)  # components the marketplace does not list are still files someone may install
            return
        if (plugin_dir / "plugin.json").is_file():
            self.plugin(folder)
            return
        has_components = any((folder / k).is_dir() for k in ("agents", "commands", "skills"))
        if plugin_dir.is_dir() and has_components:
            self.plugin(folder)  # a plugin without manifest: default folders only
        elif folder.name == ".claude" or (
            not plugin_dir.is_dir() and not (folder / ".claude").is_dir() and has_components
            and not _has_nested_scopes(folder)
        ):
            self.claude_folder(folder)
            return
        self.walk(folder)

    def walk(self, folder: Path) -> None:
        """A folder that is none of the above: find scopes inside it, and loose agent/command/skill files."""
        loose: dict[Path, Scope] = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            if here != folder and here.resolve() in self.done_roots:
                dirnames[:] = []
                continue
            if here != folder and (here / ".claude-plugin").is_dir():
                self.directory(here)
                dirnames[:] = []
                continue
            if here.name == ".claude" and here != folder:
                self.claude_folder(here)
                dirnames[:] = []
                continue
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and d != ".claude-plugin")
            for name in sorted(filenames):
                path = here / name
                kind = classify_loose(path, folder)
                if kind is None:
                    continue
                holder = path.parent.parent if kind == SKILL else _kind_dir(path, folder) or path.parent
                scope = loose.get(holder)
                if scope is None:
                    scope = loose[holder] = Scope("loose", holder)
                    self.found.scopes.append(scope)
                self.add(path, kind, scope, path.parent.name if kind == SKILL else path.stem)

    def file(self, path: Path, forced_kind: str | None) -> None:
        kind = forced_kind or classify_loose(path, None) or guess_kind(path)
        claude_dir = next((p for p in path.parents if p.name == ".claude"), None)
        plugin_root = next((p for p in path.parents if (p / ".claude-plugin").is_dir()), None)
        if claude_dir is not None:
            scope = Scope("claude", claude_dir, claude_dir.parent, claude_dir)
        elif plugin_root is not None:
            manifest = _read_json_quietly(plugin_root / ".claude-plugin" / "plugin.json")
            name = manifest.get("name") if isinstance(manifest, dict) and isinstance(manifest.get("name"), str) else plugin_root.name
            scope = Scope("plugin", plugin_root, None, None, name, manifest if isinstance(manifest, dict) else None)
        else:
            scope = Scope("loose", path.parent)
        self.found.scopes.append(scope)
        name = path.parent.name if kind == SKILL else path.stem
        if kind == COMMAND:
            commands_dir = next((p for p in path.parents if p.name == "commands"), None)
            name = _command_name(path, commands_dir) if commands_dir else path.stem
        self.add(path, kind, scope, name)


def _kind_dir(path: Path, top: Path) -> Path | None:
    for parent in path.parents:
        if parent.name in ("agents", "commands"):
            return parent
        if parent == top:
            break
    return None


def classify_loose(path: Path, top: Path | None) -> str | None:
    """agent/command/skill from where a file sits; None for other files."""
    if path.name == "SKILL.md":
        return SKILL
    if path.suffix != ".md":
        return None
    for parent in path.parents:
        if top is not None and parent == top.parent:
            break
        if parent.name == "agents":
            return AGENT
        if parent.name == "commands":
            return COMMAND
        if parent.name == "skills":
            return None
    return None


def guess_kind(path: Path) -> str:
    """A lone file outside any known folder: commands carry command-only keys, anything else is an agent."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return AGENT
    for key in ("allowed-tools:", "argument-hint:", "disable-model-invocation:"):
        if f"\n{key}" in head:
            return COMMAND
    return AGENT


def _has_nested_scopes(folder: Path) -> bool:
    return any((folder / k / ".claude-plugin").is_dir() for k in ("agents", "commands", "skills"))


def _manifest_paths(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _read_json_quietly(path: Path):
    try:
        if path.stat().st_size > 1024 * 1024:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def discover(paths: list[Path], forced_kind: str | None = None) -> Discovery:
    collector = _Collector()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            collector.directory(path)
        elif path.is_file():
            if path.name in ("plugin.json", "marketplace.json") and path.parent.name == ".claude-plugin":
                root = path.parent.parent
                collector.marketplace(root) if path.name == "marketplace.json" else collector.plugin(root)
            elif path.name in SETTINGS_FILES or (path.suffix == ".json" and path.parent.name == "hooks"):
                kind = "settings" if path.name in SETTINGS_FILES else "hooks"
                collector.found.manifests.append((path, kind, Scope("loose", path.parent)))
            else:
                collector.file(path, forced_kind)
        else:
            collector.found.missing.append(path)
    return collector.found
