"""Carry out an install plan: backups first, atomic writes, the manifest last (so a rerun converges)."""

from __future__ import annotations

from typing import Callable

from dbagents.install.atomic import atomic_write, make_dirs, remove_file, sweep_temp_files
from dbagents.install.hooks import HooksPlan
from dbagents.install.manifest import new_path_of, save_manifest
from dbagents.install.mcp import McpPlan
from dbagents.install.planning import FileAction, InstallPlan


def temp_folders(plan: InstallPlan) -> list:
    """Folders where an interrupted run may have left temp files."""
    root = plan.target.claude_dir
    folders = {root} | {(root / a.relpath).parent for a in plan.actions}
    if plan.target.project_root is not None:
        folders.add(plan.target.project_root)
    return sorted(folders)


def apply_install(plan: InstallPlan, mcp: McpPlan | None, report: Callable[[FileAction], None],
                  hooks: HooksPlan | None = None) -> int:
    """Write everything the plan says; returns the number of file system changes made."""
    target = plan.target
    root = target.claude_dir
    changes = len(sweep_temp_files(temp_folders(plan)))
    for folder in plan.dirs_to_create:
        make_dirs(folder)
    for action in plan.actions:
        dest = root / action.relpath
        if action.backup:
            atomic_write(root / action.backup, dest.read_bytes())
            changes += 1
        if action.data is not None:
            atomic_write(dest, action.data)
            changes += 1
        if action.new_data is not None:
            atomic_write(root / new_path_of(action.relpath), action.new_data)
            changes += 1
        if action.remove:
            remove_file(dest)
            changes += 1
        if action.remove_new:
            remove_file(root / new_path_of(action.relpath))
            changes += 1
        report(action)
    if mcp is not None and mcp.path is not None and mcp.new_bytes is not None:
        atomic_write(mcp.path, mcp.new_bytes)
        changes += 1
        servers = dict(plan.new_manifest.mcp.get("servers") or {})
        servers.update(mcp.to_add)
        created = plan.new_manifest.mcp.get("created_file", mcp.created_file) if plan.new_manifest.mcp else mcp.created_file
        plan.new_manifest.mcp = {"file": mcp.path.name, "created_file": bool(created), "servers": servers}
    if hooks is not None and hooks.new_bytes is not None:
        if not root.is_dir():
            make_dirs(root)
        atomic_write(hooks.path, hooks.new_bytes)
        changes += 1
        from dbagents.install.hooks import HOOK_GROUP

        plan.new_manifest.hooks = {"file": hooks.path.name, "created_file": hooks.created_file, "entry": HOOK_GROUP}
    if plan.manifest_changed:
        if not root.is_dir():
            make_dirs(root)
        save_manifest(target.manifest_path, plan.new_manifest)
        changes += 1
    return changes
