"""Which stack frames belong to the project under test, and where a statement or lazy load came from.

Every frame's file is classified once (cached by filename) as one of:
- PROJECT: under the pytest rootdir, and not in site-packages, a virtualenv, the standard library or a
  path the user declared "not mine" (ini `dbagents_nplusone_library_paths`);
- LIBRARY: other Python code (third-party packages, the standard library): the place that *touched*
  an attribute (pydantic's `model_validate`) is named as a secondary location, never as the finding's;
- MACHINERY: SQLAlchemy, the database drivers, dbagents itself and generated code (`<string>`):
  never named;
- RUNNER: pytest and pluggy; once a walk has found project frames it stops there.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import sys
import sysconfig
import threading
from types import FrameType

PROJECT, LIBRARY, MACHINERY, RUNNER = 0, 1, 2, 3

_MACHINERY_PACKAGES = (
    "sqlalchemy", "dbagents", "greenlet", "aiosqlite", "psycopg", "psycopg2", "asyncpg", "pg8000", "sqlite3",
    "pymysql", "MySQLdb", "oracledb",
)
_RUNNER_PACKAGES = ("_pytest", "pytest", "pluggy", "xdist", "execnet")
_INSTALL_DIRS = ("site-packages", "dist-packages")
# Longest project stack kept per statement (innermost frames first); deeper recursion shares a key.
MAX_STACK = 12

Site = tuple  # (absolute filename, line)


class Where(tuple):
    """(stack, touched): the project frames (innermost first) and the innermost library frame below them."""

    __slots__ = ()

    @property
    def stack(self) -> tuple:
        return self[0]

    @property
    def touched(self) -> Site | None:
        return self[1]

    @property
    def site(self) -> Site | None:
        """Where the finding is reported: the innermost project frame, else the library frame."""
        return self[0][0] if self[0] else self[1]


class FrameFilter:
    """Classifies frames (cached per filename) and walks stacks for project frames."""

    def __init__(self, rootdir: str | os.PathLike | None = None, library_paths: tuple[str, ...] = ()) -> None:
        self._cache: dict[str, int] = {}
        self._root = os.path.normcase(os.path.realpath(rootdir)) + os.sep if rootdir else None
        self._patterns = tuple(os.path.normcase(p.strip().rstrip("/\\")) for p in library_paths if p.strip())
        self._machinery = tuple(_package_dirs(_MACHINERY_PACKAGES))
        self._runner = tuple(_package_dirs(_RUNNER_PACKAGES))
        paths = sysconfig.get_paths()
        prefixes = {os.path.normcase(os.path.realpath(paths[k])) + os.sep
                    for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
        for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
            # a virtualenv (or the interpreter's own tree) inside the rootdir is never the project
            prefixes.add(os.path.normcase(os.path.realpath(prefix)) + os.sep)
        self._installed = tuple(prefixes)

    # -- classification --------------------------------------------------------------------------
    def kind(self, filename: str) -> int:
        known = self._cache.get(filename)
        if known is None:
            known = self._cache[filename] = self._classify(filename)
        return known

    def is_library(self, filename: str) -> bool:
        """Not the project's code (library, machinery or test runner)."""
        return self.kind(filename) != PROJECT

    def _classify(self, filename: str) -> int:
        if filename.startswith("<"):
            return MACHINERY  # <frozen ...>, <string>: generated code
        path = os.path.normcase(os.path.realpath(filename))
        if path.startswith(self._machinery):
            return MACHINERY
        if path.startswith(self._runner):
            return RUNNER
        parts = path.split(os.sep)
        if any(part in _INSTALL_DIRS for part in parts) or path.startswith(self._installed):
            return LIBRARY
        if self._root is None:
            return PROJECT  # no rootdir known (used outside pytest): anything not installed is the user's
        if not path.startswith(self._root):
            return LIBRARY
        relative = path[len(self._root):]
        if self._is_declared_library(relative) or _in_virtualenv(path, self._root):
            return LIBRARY
        return PROJECT

    def _is_declared_library(self, relative: str) -> bool:
        for pattern in self._patterns:
            if fnmatch.fnmatchcase(relative, pattern) or relative.startswith(pattern + os.sep) \
                    or fnmatch.fnmatchcase(relative, pattern + os.sep + "*"):
                return True
        return False

    # -- walking ---------------------------------------------------------------------------------
    def site(self, frame: FrameType | None = None) -> Site | None:
        """(filename, line) of the innermost project frame (else the innermost library frame)."""
        return self.where(frame if frame is not None else sys._getframe(1), limit=1).site

    def where(self, frame: FrameType | None = None, outer_thread: int | None = None, limit: int = MAX_STACK) -> Where:
        """The project stack of the running code and the library frame that called into SQLAlchemy.

        Under SQLAlchemy's asyncio layer the awaiting coroutines sit in parent greenlets. `outer_thread`
        (the thread running the test) adds that thread's project frames when the code runs elsewhere,
        as an app served by a test client in a worker thread does: two requests from two lines of the
        test then have two different stacks.
        """
        stack, touched = self._walk(frame if frame is not None else sys._getframe(1), limit)
        if not stack:
            greenlet = sys.modules.get("greenlet")
            parent = greenlet.getcurrent().parent if greenlet is not None else None
            while parent is not None and not stack:
                stack, outer_touched = self._walk(parent.gr_frame, limit)
                touched = touched or outer_touched
                parent = parent.parent
        if outer_thread is not None and len(stack) < limit:
            if threading.get_ident() != outer_thread:
                outer = sys._current_frames().get(outer_thread)
                if outer is not None:
                    stack = stack + self._walk(outer, limit - len(stack))[0]
        return Where((stack, touched))

    def _walk(self, frame: FrameType | None, limit: int) -> tuple[tuple, Site | None]:
        cache = self._cache  # runs on every counted statement: the lookup is inlined
        stack: list = []
        touched = None
        while frame is not None:
            filename = frame.f_code.co_filename
            kind = cache.get(filename)
            if kind is None:
                kind = self.kind(filename)
            if kind == PROJECT:
                stack.append((filename, frame.f_lineno))
                if len(stack) >= limit:
                    break
            elif kind == LIBRARY:
                if touched is None and not stack:
                    touched = (filename, frame.f_lineno)
            elif kind == RUNNER and stack:
                break  # the test function was the outermost project frame
            frame = frame.f_back
        return tuple(stack), touched


def _package_dirs(names):
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        for location in spec.submodule_search_locations or ():
            yield os.path.normcase(os.path.realpath(location)) + os.sep
        if spec.origin and not spec.submodule_search_locations:
            yield os.path.normcase(os.path.realpath(spec.origin))


def _in_virtualenv(path: str, root: str) -> bool:
    """A folder between the rootdir and the file holds pyvenv.cfg (a virtualenv kept in the project)."""
    folder = os.path.dirname(path)
    while len(folder) >= len(root) and folder.startswith(root.rstrip(os.sep)):
        if os.path.exists(os.path.join(folder, "pyvenv.cfg")):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return False
