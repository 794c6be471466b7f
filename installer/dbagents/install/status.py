"""`dbagents status`: each file's state, from the manifest, the disk and the bundle. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from dbagents.bundle import COMPONENTS
from dbagents.install.hashing import sha256_file
from dbagents.install.manifest import Manifest, new_path_of
from dbagents.install.source import BundleSource
from dbagents.install.target import Target, safe_destination

# Worst first: a component shows the first of these that any of its files has.
STATES = ("conflict", "modified", "new pending", "missing", "update available", "obsolete", "not installed", "ok")


@dataclass(frozen=True)
class FileStatus:
    relpath: str
    component: str
    state: str
    installed_sha256: str | None
    current_sha256: str | None
    bundle_sha256: str | None
    new_file: str | None  # relpath of a pending .new written by dbagents

    def to_dict(self) -> dict:
        return {
            "path": self.relpath,
            "component": self.component,
            "state": self.state,
            "installed_sha256": self.installed_sha256,
            "current_sha256": self.current_sha256,
            "bundle_sha256": self.bundle_sha256,
            "new_file": self.new_file,
        }


def file_states(target: Target, manifest: Manifest, source: BundleSource) -> list[FileStatus]:
    shipped = source.by_relpath()
    where = str(target.manifest_path)
    result = []
    for relpath in sorted(set(manifest.files) | set(shipped)):
        entry = manifest.files.get(relpath)
        sf = shipped.get(relpath)
        component = sf.component if sf else (entry or {}).get("component", "")
        current = sha256_file(safe_destination(target, relpath, where))
        bundle_sha = sf.sha256 if sf else None
        installed = entry["sha256"] if entry else None
        pending = (entry or {}).get("pending_new") or {}
        new_rel = new_path_of(relpath)
        new_file = new_rel if pending and sha256_file(safe_destination(target, new_rel, where)) is not None else None
        if entry is None:
            if current is None:
                state = "not installed"
            elif current == bundle_sha:
                state = "ok"
            else:
                state = "conflict"
        elif current is None:
            state = "missing"
        elif current == installed or current == bundle_sha:
            if sf is None:
                state = "obsolete"
            elif current == bundle_sha:
                state = "ok"
            else:
                state = "update available"
        else:
            state = "new pending" if new_file else "modified"
        result.append(FileStatus(relpath, component, state, installed, current, bundle_sha, new_file))
    return result


def component_states(files: list[FileStatus]) -> dict[str, str]:
    states = {}
    for component in COMPONENTS:
        mine = {f.state for f in files if f.component == component}
        states[component] = next((s for s in STATES if s in mine), "not installed")
    return states
