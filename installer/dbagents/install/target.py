"""Where to install: the `.claude` folder of a project or of the user, and the guard against escaping it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dbagents.errors import InputError

MANIFEST_NAME = ".dbagents.json"


@dataclass(frozen=True)
class Target:
    scope: str  # project | user
    claude_dir: Path  # the .claude folder (may not exist yet)
    project_root: Path | None  # None for the user scope
    label: str  # how to show the .claude folder: ".claude" or "~/.claude"

    @property
    def manifest_path(self) -> Path:
        return self.claude_dir / MANIFEST_NAME

    def show(self, relpath: str) -> str:
        return f"{self.label}/{relpath}"


def resolve_target(scope: str, path: str | None) -> Target:
    """The target for `--scope` / `--path`; the user scope honours $HOME."""
    if scope == "user":
        if path is not None:
            raise InputError("--path names a project root; it cannot be combined with --scope user")
        home = Path(os.path.expanduser("~"))
        target = Target("user", home / ".claude", None, "~/.claude")
    else:
        root = Path(path) if path is not None else Path.cwd()
        if not root.is_dir():
            raise InputError("is not a folder; give --path an existing project root", path=str(root))
        root = root.absolute()
        target = Target("project", root / ".claude", root, ".claude")
    if target.claude_dir.exists() and not target.claude_dir.is_dir():
        raise InputError("exists but is not a folder; move it away and run again", path=str(target.claude_dir))
    return target


def check_relpath(relpath: str, where: str) -> PurePosixPath:
    """A relative POSIX path without `..`, absolute parts, backslashes or empty segments."""
    pure = PurePosixPath(relpath)
    bad = (
        not relpath
        or pure.is_absolute()
        or "\\" in relpath
        or "\x00" in relpath
        or any(part in ("..", ".", "") for part in relpath.split("/"))
    )
    if bad:
        raise InputError(f"refusing to write outside the .claude folder: unsafe file name {relpath!r} in {where}")
    return pure


def safe_destination(target: Target, relpath: str, where: str = "the bundle") -> Path:
    """The path of `relpath` inside the .claude folder, after proving no symlink leads out of it.

    The .claude folder itself may be a symlink (dotfile setups); anything below it that is a symlink must
    resolve inside it. Raises InputError (exit 2) before anything is written.
    """
    pure = check_relpath(relpath, where)
    root = target.claude_dir
    real_root = root.resolve()
    current = root
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            resolved = current.resolve()
            if resolved != real_root and not resolved.is_relative_to(real_root):
                shown = target.show(current.relative_to(root).as_posix())
                raise InputError(
                    f"refusing to write outside {target.label}: {shown} is a symlink to {resolved}; "
                    "remove the link (or install into another --path) and run again"
                )
    return root / relpath


def safe_project_file(target: Target, name: str) -> Path:
    """A file directly in the project root (e.g. .mcp.json) that is not a symlink leading elsewhere.

    `name` may come from a manifest a repository ships: a bare file name only, never a path.
    """
    assert target.project_root is not None
    if not name or name in (".", "..") or any(c in name for c in "/\\\x00") or PurePosixPath(name).is_absolute():
        raise InputError(f"refusing to write outside the project: unsafe file name {name!r} in the manifest")
    path = target.project_root / name
    if path.is_symlink():
        resolved = path.resolve()
        if not resolved.is_relative_to(target.project_root.resolve()):
            raise InputError(
                f"refusing to write outside the project: {name} is a symlink to {resolved}; "
                "remove the link and run again"
            )
    return path
