"""The install manifest `.claude/.dbagents.json`: what dbagents wrote, so it never touches anything else.

Shape (manifest_version 1)::

    {"tool": "dbagents", "manifest_version": 1, "dbagents_version": "0.1.0", "scope": "project",
     "files": {"agents/db-expert.md": {"component": "agents", "sha256": "…", "version": "0.1.0",
                                       "pending_new": {"sha256": "…", "version": "0.2.0"}}},
     "mcp": {"file": ".mcp.json", "created_file": false, "servers": {"context7": {…}}},
     "hooks": {"file": "settings.json", "created_file": false, "entry": {"matcher": "Edit|Write", …}}}

`sha256` is the file as dbagents installed it; `pending_new` records a newer version written beside a file
the user edited, as `<name>.new`. `hooks` is the PostToolUse group `--with-hooks` added to settings.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.errors import InputError
from dbagents.install.atomic import atomic_write
from dbagents.install.target import check_relpath

MANIFEST_VERSION = 1
NEW_SUFFIX = ".new"


@dataclass
class Manifest:
    dbagents_version: str = ""
    scope: str = ""
    files: dict[str, dict] = field(default_factory=dict)
    mcp: dict = field(default_factory=dict)
    exists: bool = False
    hooks: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = {
            "tool": "dbagents",
            "manifest_version": MANIFEST_VERSION,
            "dbagents_version": self.dbagents_version,
            "scope": self.scope,
            "files": {rel: self.files[rel] for rel in sorted(self.files)},
        }
        if self.mcp:
            data["mcp"] = self.mcp
        if self.hooks:
            data["hooks"] = self.hooks
        return data

    def dump(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n").encode("utf-8")

    @property
    def is_empty(self) -> bool:
        return not self.files and not self.mcp.get("servers") and not self.hooks


def new_path_of(relpath: str) -> str:
    return relpath + NEW_SUFFIX


def load_manifest(path: Path) -> Manifest:
    """Read the manifest; a missing one is empty. A broken one is an input error (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"is not valid JSON ({exc.msg}); fix it or delete it (dbagents then treats its files as yours)",
            path=str(path),
            line=exc.lineno,
        ) from None
    if not isinstance(data, dict) or data.get("tool") != "dbagents" or not isinstance(data.get("files"), dict):
        raise InputError("is not a dbagents manifest; move it away and run again", path=str(path))
    if data.get("manifest_version", 0) > MANIFEST_VERSION:
        raise InputError("was written by a newer dbagents; upgrade dbagents (pip install -U dbagents)", path=str(path))
    files = {}
    for relpath, entry in data["files"].items():
        check_relpath(relpath, str(path))
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise InputError(f"entry {relpath!r} has no sha256; fix or delete the manifest", path=str(path))
        pending = entry.get("pending_new")
        if pending is not None and not (isinstance(pending, dict) and isinstance(pending.get("sha256"), str)):
            raise InputError(f"entry {relpath!r} has a broken pending_new; fix or delete the manifest", path=str(path))
        files[relpath] = entry
    mcp = data.get("mcp") or {}
    if not isinstance(mcp, dict):
        raise InputError("'mcp' is not an object; fix or delete the manifest", path=str(path))
    hooks = data.get("hooks") or {}
    if not isinstance(hooks, dict) or (hooks and not isinstance(hooks.get("entry"), dict)):
        raise InputError("'hooks' is not an object with an 'entry'; fix or delete the manifest", path=str(path))
    return Manifest(str(data.get("dbagents_version", "")), str(data.get("scope", "")), files, mcp, exists=True,
                    hooks=hooks)


def save_manifest(path: Path, manifest: Manifest) -> None:
    atomic_write(path, manifest.dump())
