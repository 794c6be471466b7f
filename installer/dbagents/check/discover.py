"""Find the files to check: .py files and alembic .ini files, skipping ignored, excluded and virtualenv folders."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable

from dbagents.check.gitignore import IgnoreRules

# Folders no project wants linted (same spirit as ruff's default excludes).
SKIP_DIRS = {
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", ".vscode",
    "__pypackages__", "__pycache__", "_build", "buck-out", "node_modules", "site-packages", "venv",
    ".dbagents_cache",
}
SUFFIXES = {".py": "python", ".ini": "ini"}
NAMED = {"pyproject.toml": "toml"}  # [tool.alembic] configuration


def file_kind(path: Path) -> str | None:
    return NAMED.get(path.name) or SUFFIXES.get(path.suffix)


def _excluded(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(rel, pat + "/*"):
            return True
        if rel.startswith(pat.lstrip("./") + "/"):
            return True
    return False


def discover(paths: list[Path], root: Path, exclude: list[str],
             skipped: list[tuple[str, str]] | None = None) -> list[tuple[Path, str, str]]:
    """Return (absolute path, POSIX path relative to root, kind) for every file to check, sorted.

    Files named explicitly are always checked; walked folders honour .gitignore (nested ones too),
    SKIP_DIRS, virtualenvs (a folder with pyvenv.cfg) and the config's exclude globs. Symbolic links to
    folders are not entered; a symbolic link to a file outside `root` is not followed but added to
    `skipped` as (relative path, kind), so the run can say it was not checked.
    """
    found: dict[str, tuple[Path, str, str]] = {}
    outside = _Outside(root, skipped if skipped is not None else [])
    for start in paths:
        start = start.resolve()
        if start.is_file():
            kind = file_kind(start)
            if kind:
                rel = _relative(start, root)
                found[rel] = (start, rel, kind)
            continue
        chain = [(rules, start.relative_to(rules.base).as_posix()) for rules in _inherited_ignores(start, root)]
        _walk(start, _relative(start, root), exclude, found, [(r, "" if f == "." else f) for r, f in chain], outside)
    outside.skipped.sort()
    return [found[k] for k in sorted(found)]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


def _inherited_ignores(start: Path, root: Path) -> list[IgnoreRules]:
    """.gitignore files of the folders above `start`, up to the repository (or root) top."""
    chain = []
    for folder in reversed([start, *start.parents]):
        if folder == start:
            continue
        if (folder / ".git").exists() or folder == root or root in folder.parents:
            rules = IgnoreRules.load(folder)
            if rules:
                chain.append(rules)
    return chain


def _ignored(name: str, is_dir: bool, chain: list[tuple[IgnoreRules, str]]) -> bool:
    """`chain` pairs each .gitignore with the current folder's path relative to that file's folder."""
    verdict = False
    for rules, folder in chain:
        res = rules.match(f"{folder}/{name}" if folder else name, is_dir)
        if res is not None:
            verdict = res
    return verdict


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder and folder != "." else name


class _Outside:
    """Symbolic links to files must resolve inside this real folder; the others are collected in `skipped`."""

    def __init__(self, root: Path, skipped: list[tuple[str, str]]):
        self.boundary = os.path.realpath(root)
        self.prefix = self.boundary.rstrip(os.sep) + os.sep
        self.skipped = skipped

    def __call__(self, path: str) -> bool:
        return not os.path.realpath(path).startswith(self.prefix)


def _walk(folder: Path, rel: str, exclude, found, chain: list[tuple[IgnoreRules, str]], outside: _Outside) -> None:
    """Relative paths are built as strings on the way down (one Path per kept file only). A stack, not
    recursion: a tree nested thousands of folders deep is walked like any other."""
    stack = [(folder, rel, chain)]
    while stack:
        folder, rel, chain = stack.pop()
        local = IgnoreRules.load(folder)
        if local:
            chain = [*chain, (local, "")]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if name in SKIP_DIRS or os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    continue
                child = _join(rel, name)
                if _ignored(name, True, chain) or _excluded(child, exclude):
                    continue
                stack.append((Path(entry.path), child, [(rules, f"{inner}/{name}" if inner else name)
                                                        for rules, inner in chain]))
            elif entry.is_file():
                kind = NAMED.get(name) or SUFFIXES.get(os.path.splitext(name)[1])
                if not kind:
                    continue
                child = _join(rel, name)
                if _ignored(name, False, chain) or _excluded(child, exclude):
                    continue
                if entry.is_symlink() and outside(entry.path):
                    outside.skipped.append((child, kind))
                    continue
                found[child] = (Path(entry.path), child, kind)
