"""Find the files to check: .py files and alembic .ini files, skipping ignored, excluded and virtualenv folders."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from pathlib import Path
from typing import Iterable

from dbagents.check.gitignore import IgnoreRules, read_ignore_file
from dbagents.check.listing import Listing
from dbagents.check.listing import stamp as stamp_of

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


def file_kind_of(name: str) -> str | None:
    """file_kind of a bare file name."""
    return NAMED.get(name) or SUFFIXES.get(os.path.splitext(name)[1])


def _excluded(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(rel, pat + "/*"):
            return True
        if rel.startswith(pat.lstrip("./") + "/"):
            return True
    return False


def discover(paths: list[Path], root: Path, exclude: list[str], skipped: list[tuple[str, str]] | None = None,
             listing: Listing | None = None) -> list[tuple[Path, str, str]]:
    """Return (absolute path, POSIX path relative to root, kind) for every file to check, sorted.

    Files named explicitly are always checked; walked folders honour .gitignore (nested ones too),
    SKIP_DIRS, virtualenvs (a folder with pyvenv.cfg) and the config's exclude globs. Symbolic links to
    folders are not entered; a symbolic link to a file outside `root` is not followed but added to
    `skipped` as (relative path, kind), so the run can say it was not checked. Each walked folder's
    record goes into `listing`, which may let folders that did not change be taken from the last walk.
    """
    found: dict[str, tuple[Path, str, str]] = {}
    outside = _Outside(root, skipped if skipped is not None else [])
    listing = listing if listing is not None else Listing()
    for start in paths:
        start = start.resolve()
        if start.is_file():
            kind = file_kind(start)
            if kind:
                rel = _relative(start, root)
                found[rel] = (start, rel, kind)
            continue
        rel = _relative(start, root)
        rules, above = _inherited_ignores(start, root)
        trusted = listing.start(rel, exclude, above)
        chain = [(r, start.relative_to(r.base).as_posix()) for r in rules]
        walk = _Walk(exclude, found, outside, listing)
        walk.run(start, rel, [(r, "" if f == "." else f) for r, f in chain], trusted)
    outside.skipped.sort()
    return [found[k] for k in sorted(found)]


def relative_to_root(path: Path, root: Path) -> str:
    """The relative path a walk from `root` (a real path) gives the file at `path` (its folder resolved)."""
    path = Path(os.path.abspath(path))
    return _relative(path.parent.resolve() / path.name, root)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


def _inherited_ignores(start: Path, root: Path) -> tuple[list[IgnoreRules], list[list[str]]]:
    """.gitignore files of the folders above `start`, up to the repository (or root) top: their rules,
    and [folder, digest] of each (what the walk's records depend on)."""
    chain, seen = [], []
    for folder in reversed([start, *start.parents]):
        if folder == start:
            continue
        if (folder / ".git").exists() or folder == root or root in folder.parents:
            read = read_ignore_file(folder)
            if read is None:
                continue
            seen.append([str(folder), _digest(read[0])])
            rules = IgnoreRules.parse(folder, read[0])
            if rules:
                chain.append(rules)
    return chain, seen


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest_of(ignore: list | None) -> str | None:
    return ignore[1] if ignore is not None else None


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


class _LazyRules:
    """A folder's .gitignore, read and parsed only when a path is first matched against it."""

    __slots__ = ("folder", "data", "rules")

    def __init__(self, folder: str, data: bytes | None):
        self.folder, self.data, self.rules = folder, data, None

    def match(self, rel: str, is_dir: bool) -> bool | None:
        if self.rules is None:
            data = self.data
            if data is None:
                read = read_ignore_file(self.folder)
                data = read[0] if read is not None else b""
            self.rules = IgnoreRules.parse(Path(self.folder), data) or False
        return self.rules.match(rel, is_dir) if self.rules else None


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


class _Walk:
    """Walks folders from a stack, not by recursion (a tree nested thousands of folders deep is walked like
    any other), building relative paths as strings on the way down (one Path per kept file only)."""

    def __init__(self, exclude, found, outside: _Outside, listing: Listing):
        self.exclude, self.found, self.outside, self.listing = exclude, found, outside, listing

    def run(self, folder: Path, rel: str, chain: list, trusted: bool) -> None:
        """`chain` pairs each .gitignore's rules with the folder's path relative to that .gitignore's folder;
        `trusted`: the previous walk's records of this subtree may be reused."""
        now = self.listing.now
        stack = [(str(folder), rel, chain, _lstat(str(folder)), trusted)]
        while stack:
            path, rel, chain, st, trusted = stack.pop()
            old = self.listing.old(rel) if trusted else None
            stamp = stamp_of(st, now) if st is not None else None
            ignore, rules = self._ignore_file(path, old, old is not None and stamp is not None and old[0] == stamp)
            if old is not None and _digest_of(old[1]) != _digest_of(ignore):
                trusted, old = False, None  # another .gitignore: every decision below may change
            if rules is not None:
                chain = [*chain, (rules, "")]
            kids = self._unchanged(path, rel, old, stamp)
            if kids is None:
                self.listing.relisted += 1
                kids = self._list(path, rel, chain, stamp, ignore)
            else:
                self.listing.keep(rel, [stamp, ignore, old[2], old[3], old[4]])
            for name, child_st in kids:
                stack.append((path + os.sep + name, _join(rel, name),
                              [(r, f"{inner}/{name}" if inner else name) for r, inner in chain], child_st, trusted))

    def _ignore_file(self, path: str, old: list | None, same_folder: bool) -> tuple[list | None, _LazyRules | None]:
        """([stamp, digest] of the folder's .gitignore or None, its lazily parsed rules). In a folder whose
        stamp is unchanged, a .gitignore cannot have appeared or gone, and one whose own stamp is unchanged
        is not read."""
        known = old[1] if old is not None else None
        if same_folder and known is None:
            return None, None
        if same_folder and known[0] is not None:
            try:
                st = os.stat(os.path.join(path, ".gitignore"))
            except OSError:
                st = None
            if st is not None and stamp_of(st, self.listing.now) == known[0]:
                return known, _LazyRules(path, None)
        read = read_ignore_file(path)
        if read is None:
            return None, None
        data, st = read
        return [stamp_of(st, self.listing.now), _digest(data)], _LazyRules(path, data)

    def _unchanged(self, path: str, rel: str, old: list | None, stamp: str | None) -> list | None:
        """When the previous record `old` still holds: add its files to the result and return the sub-folders
        to walk, with their stats. Else None."""
        if old is None or stamp is None or old[0] != stamp:
            return None
        kids = []
        for name, known in old[3] + old[4]:
            st = _lstat(path + os.sep + name)
            if known is None or st is None or stamp_of(st, self.listing.now) != known:
                return None
            kids.append((name, st))
        kinds = [file_kind_of(name) for name in old[2]]
        if not all(kinds):
            return None  # not a name this walk would have kept: a record we did not write
        found, folder = self.found, Path(path)
        for name, kind in zip(old[2], kinds):
            child = _join(rel, name)
            found[child] = (folder / name, child, kind)
        return kids[: len(old[3])]

    def _list(self, path: str, rel: str, chain: list, stamp: str | None, ignore: list | None) -> list:
        """Read the folder; record what it holds; return the sub-folders to walk, with their stats."""
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return []
        files, dirs, venvs, kids = [], [], [], []
        exclude, found, outside, now = self.exclude, self.found, self.outside, self.listing.now
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if entry.is_symlink():
                    stamp = None  # a link's target can change while this folder does not: never reused
            except OSError:
                continue
            if is_dir:
                if name in SKIP_DIRS:
                    continue
                child = _join(rel, name)
                if _ignored(name, True, chain) or _excluded(child, exclude):
                    continue
                venv = os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
                st = _lstat(entry.path)
                (venvs if venv else dirs).append([name, stamp_of(st, now) if st is not None else None])
                if not venv:
                    kids.append((name, st))
            elif entry.is_file():
                kind = file_kind_of(name)
                if not kind:
                    continue
                child = _join(rel, name)
                if _ignored(name, False, chain) or _excluded(child, exclude):
                    continue
                if entry.is_symlink() and outside(entry.path):
                    outside.skipped.append((child, kind))
                    continue
                files.append(name)
                found[child] = (Path(entry.path), child, kind)
        self.listing.keep(rel, [stamp, ignore, files, dirs, venvs])
        return kids
