"""Where reported paths point: what a person types to open the file, and what code scanning maps.

Checkers keep finding paths relative to the folder they checked (the cache and the facts need that). Only
the reporter turns them into output paths:

- text, json, github: relative to the current directory, or absolute when the file is outside it;
- SARIF: relative to the repository root (git top level, else the current directory), under the
  ``%SRCROOT%`` base id; a file outside that root gets an absolute ``file://`` URI.
"""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from dbagents.findings import Finding


def absolute(path: str, root: str | Path) -> str:
    """The absolute, normalised form of a finding path (relative to `root`, or already absolute)."""
    if not path:
        return ""
    return os.path.normpath(os.path.join(os.fspath(root), path))


def relative_if_inside(abs_path: str, base: str | Path) -> str | None:
    """`abs_path` as a POSIX path relative to `base`, or None when it lies outside `base`."""
    base = os.path.normpath(os.fspath(base))
    if abs_path == base:
        return "."
    prefix = base.rstrip(os.sep) + os.sep
    if not abs_path.startswith(prefix):
        return None
    return Path(abs_path[len(prefix):]).as_posix()


def display_path(path: str, root: str | Path, cwd: str | Path | None = None) -> str:
    """A finding path as shown to a person: relative to `cwd` when inside it, else absolute."""
    if not path:
        return ""
    full = absolute(path, root)
    here = os.fspath(cwd) if cwd is not None else os.getcwd()
    rel = relative_if_inside(full, here)
    return rel if rel is not None else Path(full).as_posix()


@lru_cache(maxsize=16)
def git_toplevel(folder: str) -> str | None:
    """The top level of the git work tree holding `folder` (its real path), or None when it is in none.

    Found by looking for `.git` (a folder, or the `gitdir:` file of a worktree or submodule) in the folder and
    its parents, the way `git rev-parse --show-toplevel` does, without starting git: a plain `dbagents check`
    starts no process, and a checked tree's `.git/config` (hooks, fsmonitor) never comes into play.
    """
    here = Path(os.path.realpath(folder))
    for candidate in (here, *here.parents):
        marker = candidate / ".git"
        try:
            if marker.is_dir() and (marker / "HEAD").is_file():
                return os.path.normpath(candidate)
            if marker.is_file():
                with marker.open("rb") as fh:
                    if fh.read(8) == b"gitdir: ":
                        return os.path.normpath(candidate)
        except OSError:
            continue
    return None


def sarif_base(cwd: str | Path | None = None) -> str:
    """The folder SARIF URIs are relative to: the repository root around `cwd`, else `cwd` itself."""
    here = os.path.normpath(os.fspath(cwd) if cwd is not None else os.getcwd())
    top = git_toplevel(here)
    if top is None:
        return here
    # git prints the real path; keep the spelling of `here` when it is a symlinked view of the same folder
    real_here = os.path.realpath(here)
    rel = relative_if_inside(real_here, os.path.realpath(top))
    if rel is None:
        return top
    parts = [] if rel == "." else rel.split("/")
    base = here
    for _ in parts:
        base = os.path.dirname(base)
    return base


def relocate(findings: Iterable[Finding], root: str | Path, fmt: str, cwd: str | Path | None = None
             ) -> tuple[list[Finding], str]:
    """Findings with output paths for `fmt`, and the base folder the paths are relative to."""
    here = os.path.normpath(os.fspath(cwd) if cwd is not None else os.getcwd())
    base = sarif_base(here) if fmt == "sarif" else here
    out = []
    for f in findings:
        if f.path:
            full = absolute(f.path, root)
            rel = relative_if_inside(full, base)
            path = rel if rel is not None else Path(full).as_posix()
            if path != f.path:
                f = dataclasses.replace(f, path=path)
        out.append(f)
    return out, base
