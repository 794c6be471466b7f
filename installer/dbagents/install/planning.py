"""Decide, per file, what `dbagents install` does. Pure: reads the disk, writes nothing.

The rules (sha = sha256 of the bytes):
- missing file: create it (or restore it, when the manifest says dbagents installed it before);
- file already equal to the bundle: unchanged (recorded in the manifest);
- file equal to what dbagents installed: the user did not touch it, replace it (upgrade);
- file differing from what dbagents installed: the user edited it; keep it, and when the bundle has a new
  version write it beside as `<name>.new`; `--force` saves a backup and replaces it;
- file dbagents never installed: the user's own; report a conflict and leave it; `--force` backs up and replaces;
- file dbagents installed that the bundle no longer ships: removed when untouched, kept when edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dbagents.errors import InputError
from dbagents.install.hashing import sha256_file
from dbagents.install.manifest import Manifest, new_path_of
from dbagents.install.source import BundleSource, SourceFile
from dbagents.install.target import Target, safe_destination

BACKUP_TAG = ".dbagents-backup-"

LABELS = {
    "create": ("created", "would create"),
    "restore": ("restored (was missing)", "would restore (was missing)"),
    "update": ("updated", "would update"),
    "unchanged": ("unchanged", "unchanged"),
    "kept": ("kept (modified by you)", "kept (modified by you)"),
    "kept_new": ("kept (modified by you); new version in {new}", "kept (modified by you); would write new version to {new}"),
    "conflict": (
        "conflict: not installed by dbagents, left as is (--force replaces it after a backup)",
        "conflict: not installed by dbagents, would be left as is (--force replaces it after a backup)",
    ),
    "replace": ("replaced (your version saved as {backup})", "would replace (your version saved as {backup})"),
    "obsolete_removed": ("removed (no longer shipped)", "would remove (no longer shipped)"),
    "obsolete_kept": ("kept (modified by you; no longer shipped by dbagents)", "kept (modified by you; no longer shipped by dbagents)"),
    "obsolete_backup": ("removed (no longer shipped; your version saved as {backup})", "would remove (no longer shipped; your version saved as {backup})"),
    "obsolete_gone": ("forgotten (no longer shipped, already gone)", "would forget (no longer shipped, already gone)"),
}


@dataclass
class FileAction:
    relpath: str
    component: str
    kind: str  # a key of LABELS
    data: bytes | None = None  # bytes to write at relpath
    new_data: bytes | None = None  # bytes to write at relpath.new
    backup: str | None = None  # relpath of the backup to save first
    remove: bool = False  # unlink relpath
    remove_new: bool = False  # unlink our own stale relpath.new
    note: str = ""

    @property
    def writes(self) -> bool:
        return bool(self.data is not None or self.new_data is not None or self.backup or self.remove or self.remove_new)

    def label(self, target: Target, dry_run: bool) -> str:
        text = LABELS[self.kind][1 if dry_run else 0]
        text = text.format(new=target.show(new_path_of(self.relpath)), backup=target.show(self.backup or ""))
        return f"{text}; {self.note}" if self.note else text


@dataclass
class InstallPlan:
    target: Target
    source: BundleSource
    actions: list[FileAction]
    old_manifest: Manifest
    new_manifest: Manifest
    dirs_to_create: list[Path] = field(default_factory=list)

    @property
    def manifest_changed(self) -> bool:
        if not self.old_manifest.exists:
            return not self.new_manifest.is_empty
        return self.old_manifest.dump() != self.new_manifest.dump()


def backup_name(relpath: str, stamp: str, taken: set[str]) -> str:
    name = f"{relpath}{BACKUP_TAG}{stamp}"
    n = 1
    candidate = name
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _entry(sf: SourceFile, version: str) -> dict:
    return {"component": sf.component, "sha256": sf.sha256, "version": version}


def _check_writable(target: Target, dest: Path, relpath: str) -> None:
    """Every existing parent below .claude must be a folder, and the file itself must not be a folder."""
    current = target.claude_dir
    for part in relpath.split("/")[:-1]:
        current = current / part
        if current.exists() and not current.is_dir():
            raise InputError("is a file where dbagents needs a folder; move it away and run again", path=str(current))
    if dest.is_dir():
        raise InputError("is a folder where dbagents installs a file; move it away and run again", path=str(dest))


def plan_install(
    target: Target, source: BundleSource, manifest: Manifest, only: tuple[str, ...], force: bool
) -> InstallPlan:
    """Work out every file's action. Raises InputError (nothing written) on any unsafe path."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    taken: set[str] = set()
    new_manifest = Manifest(source.version, target.scope, dict(manifest.files), dict(manifest.mcp), manifest.exists,
                            hooks=dict(manifest.hooks))
    actions: list[FileAction] = []
    manifest_where = str(target.manifest_path)

    for sf in source.selected(only):
        dest = safe_destination(target, sf.relpath)
        new_dest = safe_destination(target, new_path_of(sf.relpath))
        _check_writable(target, dest, sf.relpath)
        current = sha256_file(dest)
        if current is None and dest.is_symlink():
            raise InputError("is a dangling symlink; remove it and run again", path=str(dest))
        entry = manifest.files.get(sf.relpath)
        pending = (entry or {}).get("pending_new") or {}
        new_current = sha256_file(new_dest)
        ours_new = bool(pending) and new_current == pending.get("sha256")
        action = FileAction(sf.relpath, sf.component, "unchanged")

        if current is None:
            action.kind = "restore" if entry else "create"
            action.data = sf.data
            new_manifest.files[sf.relpath] = _entry(sf, source.version)
            action.remove_new = ours_new
        elif current == sf.sha256:
            new_manifest.files[sf.relpath] = _entry(sf, source.version)
            action.remove_new = ours_new  # the user took our .new over: it is no longer needed
        elif entry and current == entry["sha256"]:
            action.kind = "update"
            action.data = sf.data
            new_manifest.files[sf.relpath] = _entry(sf, source.version)
            action.remove_new = ours_new
        elif force:
            action.kind = "replace"
            action.backup = backup_name(sf.relpath, stamp, taken)
            safe_destination(target, action.backup)
            action.data = sf.data
            new_manifest.files[sf.relpath] = _entry(sf, source.version)
            action.remove_new = ours_new
        elif entry:
            if entry["sha256"] == sf.sha256:
                action.kind = "kept"
            elif new_current is not None and new_current != sf.sha256 and not ours_new:
                action.kind = "kept"
                action.note = f"{target.show(new_path_of(sf.relpath))} exists and is not from dbagents, left as is"
            else:
                action.kind = "kept_new"
                if new_current != sf.sha256:
                    action.new_data = sf.data
                new_manifest.files[sf.relpath] = {
                    **entry,
                    "pending_new": {"sha256": sf.sha256, "version": source.version},
                }
        else:
            action.kind = "conflict"
        actions.append(action)

    shipped = source.by_relpath()
    for relpath, entry in sorted(manifest.files.items()):
        if relpath in shipped or entry.get("component") not in only:
            continue
        dest = safe_destination(target, relpath, manifest_where)
        current = sha256_file(dest)
        pending = entry.get("pending_new") or {}
        ours_new = bool(pending) and sha256_file(safe_destination(target, new_path_of(relpath), manifest_where)) == pending.get("sha256")
        action = FileAction(relpath, entry.get("component", ""), "obsolete_gone", remove_new=ours_new)
        if current is None:
            pass
        elif current == entry["sha256"]:
            action.kind, action.remove = "obsolete_removed", True
        elif force:
            action.kind, action.remove = "obsolete_backup", True
            action.backup = backup_name(relpath, stamp, taken)
        else:
            action.kind = "obsolete_kept"
        new_manifest.files.pop(relpath, None)
        actions.append(action)

    dirs = sorted({(target.claude_dir / a.relpath).parent for a in actions if a.data is not None or a.new_data is not None})
    missing_dirs = [d for d in dirs if not d.is_dir()]
    if any(a.data is not None for a in actions) and not target.claude_dir.is_dir():
        missing_dirs.insert(0, target.claude_dir)
    return InstallPlan(target, source, actions, manifest, new_manifest, missing_dirs)
