"""Find the first stack frame that belongs to the user's code (not SQLAlchemy, pytest or stdlib)."""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from types import FrameType

# Libraries whose frames are never "the user's line".
_SKIP_PACKAGES = (
    "sqlalchemy", "dbagents", "_pytest", "pytest", "pluggy", "greenlet", "pytest_asyncio", "anyio",
    "xdist", "execnet", "aiosqlite", "psycopg", "asyncpg", "sqlite3", "asyncio",
)

Site = tuple  # (absolute filename, line)


class FrameFilter:
    """Decides, per filename (cached), whether a frame is library code."""

    def __init__(self) -> None:
        self._cache: dict[str, bool] = {}
        self._skip_dirs = tuple(self._package_dirs())
        paths = sysconfig.get_paths()
        self._stdlib = tuple({os.path.normcase(paths[k]) + os.sep for k in ("stdlib", "platstdlib") if k in paths})

    @staticmethod
    def _package_dirs():
        for name in _SKIP_PACKAGES:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            for location in spec.submodule_search_locations or ():
                yield os.path.normcase(location) + os.sep
            if spec.origin and not spec.submodule_search_locations:
                yield os.path.normcase(spec.origin)

    def is_library(self, filename: str) -> bool:
        known = self._cache.get(filename)
        if known is None:
            known = self._classify(filename)
            self._cache[filename] = known
        return known

    def _classify(self, filename: str) -> bool:
        if filename.startswith("<"):
            return True  # <frozen ...>, <string>: generated code
        path = os.path.normcase(os.path.abspath(filename))
        if path.startswith(self._skip_dirs):
            return True
        if path.startswith(self._stdlib):
            parts = path.split(os.sep)
            return "site-packages" not in parts and "dist-packages" not in parts
        return False

    def user_site(self, frame: FrameType | None = None) -> Site | None:
        """(filename, line) of the innermost user frame, looking through greenlet parents too."""
        found = self._walk(frame if frame is not None else sys._getframe(1))
        if found:
            return found
        greenlet = sys.modules.get("greenlet")
        if greenlet is None:
            return None
        # SQLAlchemy's asyncio layer runs sync code in a child greenlet; the awaiting
        # coroutine (the user's line) is suspended in a parent greenlet.
        parent = greenlet.getcurrent().parent
        while parent is not None:
            found = self._walk(parent.gr_frame)
            if found:
                return found
            parent = parent.parent
        return None

    def _walk(self, frame: FrameType | None) -> Site | None:
        cache = self._cache  # runs on every lazy load: the cache lookup is inlined
        while frame is not None:
            filename = frame.f_code.co_filename
            library = cache.get(filename)
            if library is None:
                library = self.is_library(filename)
            if not library:
                return (filename, frame.f_lineno)
            frame = frame.f_back
        return None
