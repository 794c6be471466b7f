"""`dbagents uninstall`: remove exactly what dbagents installed and the user did not change."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dbagents.install.atomic import atomic_write, remove_file
from dbagents.install.hashing import sha256_file
from dbagents.install.manifest import Manifest, new_path_of, save_manifest
from dbagents.install.planning import backup_name
from dbagents.install.target import Target, safe_destination, safe_project_file


@dataclass
class RemoveAction:
    relpath: str
    kind: str  # remove | gone | kept | backup_remove | remove_new
    backup: str | None = None

    def label(self, target: Target, dry_run: bool) -> str:
        text = {
            "remove": ("removed", "would remove"),
            "gone": ("already gone", "already gone"),
            "kept": ("kept (modified by you; --force removes it after a backup)",) * 2,
            "backup_remove": (f"removed (your version saved as {target.show(self.backup or '')})",
                              f"would remove (your version saved as {target.show(self.backup or '')})"),
            "remove_new": ("removed (pending new version)", "would remove (pending new version)"),
        }[self.kind]
        return text[1 if dry_run else 0]


@dataclass
class UninstallPlan:
    actions: list[RemoveAction]
    new_manifest: Manifest
    mcp_path: Path | None = None
    mcp_removed: list[str] = field(default_factory=list)
    mcp_kept: list[str] = field(default_factory=list)
    mcp_new_bytes: bytes | None = None
    mcp_delete: bool = False
    old_dump: bytes = b""
    hooks_path: Path | None = None
    hook_state: str = ""  # removed | changed | gone (the recorded PostToolUse group)
    hooks_new_bytes: bytes | None = None
    hooks_delete: bool = False


def plan_uninstall(target: Target, manifest: Manifest, only: tuple[str, ...], force: bool, all_components: bool) -> UninstallPlan:
    where = str(target.manifest_path)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    taken: set[str] = set()
    new_manifest = Manifest(manifest.dbagents_version, manifest.scope, dict(manifest.files), dict(manifest.mcp), True,
                            hooks=dict(manifest.hooks))
    actions = []
    for relpath, entry in sorted(manifest.files.items()):
        if entry.get("component") not in only:
            continue
        dest = safe_destination(target, relpath, where)
        pending = entry.get("pending_new") or {}
        if pending:
            new_rel = new_path_of(relpath)
            if sha256_file(safe_destination(target, new_rel, where)) == pending.get("sha256"):
                actions.append(RemoveAction(new_rel, "remove_new"))
        current = sha256_file(dest)
        if current is None:
            actions.append(RemoveAction(relpath, "gone"))
            new_manifest.files.pop(relpath)
        elif current == entry["sha256"]:
            actions.append(RemoveAction(relpath, "remove"))
            new_manifest.files.pop(relpath)
        elif force:
            backup = backup_name(relpath, stamp, taken)
            safe_destination(target, backup, where)
            actions.append(RemoveAction(relpath, "backup_remove", backup))
            new_manifest.files.pop(relpath)
        else:
            actions.append(RemoveAction(relpath, "kept"))
            if pending:
                new_manifest.files[relpath] = {k: v for k, v in entry.items() if k != "pending_new"}
    plan = UninstallPlan(actions, new_manifest, old_dump=manifest.dump())
    servers = (manifest.mcp or {}).get("servers") or {}
    if all_components and servers and target.project_root is not None:
        from dbagents.install.mcp import remove_added_servers

        path = safe_project_file(target, manifest.mcp.get("file", ".mcp.json"))
        removed, kept, new_bytes, delete = remove_added_servers(path, servers, bool(manifest.mcp.get("created_file")))
        plan.mcp_path, plan.mcp_removed, plan.mcp_kept = path, removed, kept
        plan.mcp_new_bytes, plan.mcp_delete = new_bytes, delete
        new_manifest.mcp = {}
    if all_components and manifest.hooks:
        from dbagents.install.hooks import SETTINGS_FILE, remove_hook

        path = safe_destination(target, SETTINGS_FILE, where)
        plan.hooks_path = path
        plan.hook_state, plan.hooks_new_bytes, plan.hooks_delete = remove_hook(
            path, manifest.hooks["entry"], bool(manifest.hooks.get("created_file")))
        new_manifest.hooks = {}
    return plan


def _remove_empty_parents(target: Target, relpath: str, removed_dirs: list[str]) -> None:
    root = target.claude_dir
    folder = (root / relpath).parent
    while folder != root and root in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return
        removed_dirs.append(folder.relative_to(root).as_posix())
        folder = folder.parent


def apply_uninstall(target: Target, plan: UninstallPlan, report) -> list[str]:
    """Remove files, then empty folders, then the manifest (or rewrite it). Returns removed folder relpaths."""
    root = target.claude_dir
    removed_dirs: list[str] = []
    for action in plan.actions:
        dest = root / action.relpath
        if action.kind == "backup_remove":
            atomic_write(root / action.backup, dest.read_bytes())
        if action.kind in ("remove", "backup_remove", "remove_new"):
            remove_file(dest)
        report(action)
    for action in plan.actions:
        if action.kind in ("remove", "backup_remove", "remove_new", "gone"):
            _remove_empty_parents(target, action.relpath, removed_dirs)
    if plan.mcp_path is not None:
        if plan.mcp_delete:
            remove_file(plan.mcp_path)
        elif plan.mcp_new_bytes is not None:
            atomic_write(plan.mcp_path, plan.mcp_new_bytes)
    if plan.hooks_delete:
        remove_file(plan.hooks_path)
    elif plan.hooks_new_bytes is not None:
        atomic_write(plan.hooks_path, plan.hooks_new_bytes)
    if plan.new_manifest.is_empty:
        if target.manifest_path.exists():
            remove_file(target.manifest_path)
        try:
            os.rmdir(root)
            removed_dirs.append(".")
        except OSError:
            pass
    elif plan.new_manifest.dump() != plan.old_dump:
        save_manifest(target.manifest_path, plan.new_manifest)
    return sorted(set(removed_dirs), key=lambda d: (-d.count("/"), d))
