"""The bundle to install: its version and the bytes of each file as they will be written for a scope.

Test-only: ``DBAGENTS_TEST_BUNDLE_ROOT=<dir>`` points the installer at another bundle folder (with
agents/, commands/, context/ and a ``.dbagents-version`` file holding its version). The test suite uses it
to install an older bundle from tests/fixtures/bundles/ and then upgrade. Never set it in normal use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dbagents.bundle import COMPONENTS
from dbagents.errors import InputError
from dbagents.install.hashing import sha256_bytes
from dbagents.install.rewrite import rewrite_for_user_scope

TEST_ROOT_ENV = "DBAGENTS_TEST_BUNDLE_ROOT"
VERSION_FILE = ".dbagents-version"


@dataclass(frozen=True)
class SourceFile:
    component: str  # agents | commands | context
    relpath: str  # POSIX path inside .claude, e.g. "agents/db-expert.md"
    data: bytes  # content as written for the chosen scope
    raw: bytes  # content as shipped (what validation checks)

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.data)


@dataclass(frozen=True)
class BundleSource:
    root: Path
    version: str
    files: tuple[SourceFile, ...]  # every file of the bundle, all components

    def selected(self, only: tuple[str, ...]) -> list[SourceFile]:
        return [f for f in self.files if f.component in only]

    def by_relpath(self) -> dict[str, SourceFile]:
        return {f.relpath: f for f in self.files}


def _list_files(root: Path) -> list[tuple[str, str, Path]]:
    found = []
    for component in COMPONENTS:
        base = root / component
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                found.append((component, rel.as_posix(), path))
    return found


def load_source(scope: str) -> BundleSource:
    """Read the whole bundle once; for the user scope, context references are rewritten to ~/.claude/."""
    override = os.environ.get(TEST_ROOT_ENV)
    if override:
        root = Path(override)
        version_file = root / VERSION_FILE
        if not version_file.is_file():
            raise InputError(f"{TEST_ROOT_ENV} bundle has no {VERSION_FILE} file", path=str(root))
        version = version_file.read_text(encoding="utf-8").strip()
    else:
        from dbagents import __version__
        from dbagents.bundle import bundle_root

        try:
            root = bundle_root()
        except FileNotFoundError as exc:
            raise InputError(str(exc)) from None
        version = __version__
    files = []
    for component, relpath, path in _list_files(root):
        raw = path.read_bytes()
        data = rewrite_for_user_scope(raw) if scope == "user" else raw
        files.append(SourceFile(component, relpath, data, raw))
    if not files:
        raise InputError("the dbagents bundle is empty; reinstall dbagents", path=str(root))
    return BundleSource(root, version, tuple(files))

