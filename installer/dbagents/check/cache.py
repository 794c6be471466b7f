"""Result cache: per-file results keyed by content digest and engine fingerprint, plus the project-wide
rules' findings keyed by every file's digest, the enabled rules and the settings. Safe to delete."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path

from dbagents import __version__

CACHE_DIR = ".dbagents_cache"


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """Package version plus a hash of the engine's own sources, so an edited engine never reuses results."""
    h = hashlib.blake2b(__version__.encode(), digest_size=16)
    base = Path(__file__).resolve().parent
    for path in sorted(base.rglob("*.py")):
        h.update(path.relative_to(base).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _cache_file(cache_root: Path, check_root: Path) -> Path:
    key = hashlib.blake2b(str(check_root.resolve()).encode(), digest_size=8).hexdigest()
    return cache_root / CACHE_DIR / f"check-{key}.pickle"


def load(cache_root: Path, check_root: Path) -> tuple[dict, tuple | None]:
    """(relpath -> FileResult, (project key, project-rule findings) or None) from the last run.

    ({}, None) when absent, stale or unreadable.
    """
    path = _cache_file(cache_root, check_root)
    try:
        with path.open("rb") as fh:
            fingerprint, results, project = pickle.load(fh)
    except Exception:  # missing, truncated, from another version: start afresh
        return {}, None
    return (results, project) if fingerprint == engine_fingerprint() else ({}, None)


def project_key(results: dict, enabled: set[str], config) -> str:
    """What project-wide rules read: every file's digest (so its facts), the enabled rules and the settings."""
    h = hashlib.blake2b(digest_size=20)
    for relpath, result in sorted(results.items()):
        h.update(f"{relpath}\0{result.digest}\0{result.parsed}\n".encode())
    h.update(repr(sorted(enabled)).encode())
    h.update(repr(config).encode())
    return h.hexdigest()


def save(cache_root: Path, check_root: Path, results: dict, project: tuple | None) -> None:
    path = _cache_file(cache_root, check_root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        marker = path.parent / ".gitignore"
        if not marker.exists():
            marker.write_text("# created by dbagents; safe to delete\n*\n", encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((engine_fingerprint(), results, project), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only tree just runs without a cache
