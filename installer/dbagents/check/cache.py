"""Result cache: per-file results keyed by content digest and engine fingerprint, plus the project-wide
rules' findings keyed by every file's digest, the enabled rules and the settings; and what lets a warm
run skip work: the last walk's folder listing (see `listing`) and each file's stamp when its digest was taken.

It lives in a per-user folder (never inside the checked tree, so a repository cannot ship one) and holds
data only: JSON whose tagged values decode to builtins and the engine's own registered dataclasses, looked
up by name in an allow-list (see `codec`). A file that is stale is rebuilt silently; one that is malformed,
not ours or from an unknown format is ignored and rebuilt with a one-line note. Safe to delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple

from dbagents import __version__
from dbagents.check import codec
from dbagents.check.codec import CacheError
from dbagents.check.listing import checked as checked_listing
from dbagents.check.project import FileResult
from dbagents.check.source import Suppressions
from dbagents.findings import Finding, Severity

ENV_VAR = "DBAGENTS_CACHE_DIR"
FORMAT = "dbagents-check-cache"
VERSION = 2  # of the file layout below; the codec's schema and the engine's sources are in the fingerprint
MAX_HEADER = 4096
MAX_BYTES = 512 * 1024 * 1024  # a cache file larger than this was not written by us
KINDS = frozenset({"python", "ini", "toml"})
LEGACY_DIR = ".dbagents_cache"  # where versions before 0.2 kept a pickle in the tree; never read


def cache_dir() -> Path:
    """$DBAGENTS_CACHE_DIR, else $XDG_CACHE_HOME/dbagents, else the platform's per-user cache folder."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says relative values are ignored
        return Path(xdg) / "dbagents"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "dbagents" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dbagents"
    return Path.home() / ".cache" / "dbagents"


def cache_file(check_root: Path) -> Path:
    """This project's cache file: one per checked folder, named by a hash of its real path."""
    key = hashlib.blake2b(str(check_root.resolve()).encode(), digest_size=16).hexdigest()
    return cache_dir() / f"check-{key}.json"


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """Package version, file layout, codec schema and a hash of the engine's own sources, so an edited
    engine never reuses results."""
    h = hashlib.blake2b(f"{__version__}\0{FORMAT}\0{VERSION}\0{codec.schema()}".encode(), digest_size=16)
    base = Path(__file__).resolve().parent
    for path in sorted(base.rglob("*.py")):
        h.update(path.relative_to(base).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def project_key(results: dict, enabled: set[str], config) -> str:
    """What project-wide rules read: every file's facts (its digest stands for them), the enabled rules and the
    settings. A file without facts counts by its path, kind and parse alone: project rules see nothing else of
    it (and no finding of theirs can point into it), so editing it leaves their findings as they were."""
    h = hashlib.blake2b(digest_size=20)
    for relpath, result in sorted(results.items()):
        digest = result.digest if result.facts else ""
        h.update(f"{relpath}\0{result.kind}\0{digest}\0{result.parsed}\n".encode())
    h.update(repr(sorted(enabled)).encode())
    h.update(repr(config).encode())
    return h.hexdigest()


def note(message: str) -> None:
    print(f"dbagents: note: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- reading


class EncodedFacts(Mapping):
    """A cached file's facts, each decoded the first time it is read (a warm run whose project-wide
    findings are reused reads none). If one turns out malformed, `rebuild()` recomputes the file's facts
    from its source instead, with a note."""

    __slots__ = ("_raw", "_done", "_relpath", "_rebuild")

    def __init__(self, raw: dict, relpath: str, rebuild: Callable[[str], dict] | None):
        self._raw, self._done, self._relpath, self._rebuild = raw, {}, relpath, rebuild

    def __getitem__(self, key: str) -> Any:
        done = self._done
        if key in done:
            return done[key]
        raw = self._raw[key]
        try:
            value = codec.decode(raw)
        except CacheError as exc:
            value = self._recover(key, exc)
        done[key] = value
        return value

    def _recover(self, key: str, exc: CacheError) -> Any:
        note(f"cached facts of {self._relpath} are malformed ({exc}); recomputed from the file")
        fresh = self._rebuild(self._relpath) if self._rebuild else {}
        self._raw = dict.fromkeys(fresh)  # None: no stored form, encode the fresh value when saved
        self._done = dict(fresh)
        if key not in fresh:
            raise KeyError(key)
        return fresh[key]

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def encoded(self) -> dict:
        """The JSON-ready form: what was read is written back as it was, decoded or not."""
        return {k: codec.encode(self._done[k]) if v is None else v for k, v in self._raw.items()}


def _finding(row) -> Finding:
    path, line, col, rule_id, message, severity, hint, obj, end_line = row
    if not (path.__class__ is str and rule_id.__class__ is str and message.__class__ is str
            and hint.__class__ is str and obj.__class__ is str and line.__class__ is int
            and col.__class__ is int and end_line.__class__ is int and severity.__class__ is int):
        raise CacheError("a finding has a field of the wrong type")
    return Finding(path, line, col, rule_id, message, Severity(severity), hint, obj, end_line)


def _codes(value) -> frozenset[str] | None:
    if value is None:
        return None
    if value.__class__ is not list or not all(c.__class__ is str for c in value):
        raise CacheError("suppression codes are not a list of strings")
    return frozenset(value)


def _suppressions(row) -> Suppressions:
    lines, whole = row
    sup = Suppressions()
    if lines.__class__ is not list:
        raise CacheError("suppressed lines are not a list")
    for line, codes in lines:
        if line.__class__ is not int:
            raise CacheError("a suppressed line is not a number")
        sup.lines[line] = _codes(codes)
    sup.whole_file = False if whole is False else _codes(whole)
    return sup


def _pairs_of_numbers(text: str) -> bool:
    """Whether `text` is "n n n n ...": ASCII digits in an even count of numbers, one space apart (plain string
    tests: a regex over every cached file's text was a twentieth of a warm hook run)."""
    return (text.isascii() and text.replace(" ", "").isdigit() and "  " not in text
            and text[0] != " " and text[-1] != " " and text.count(" ") % 2 == 1)


class StatementEnds(Mapping):
    """A cached file's multi-line statements ("line end line end ..."), made a dict when first read: a run
    looks up only the files with findings."""

    __slots__ = ("text", "_map")

    def __init__(self, text: str):
        if not _pairs_of_numbers(text):
            raise CacheError("statement ends are not pairs of numbers")
        self.text, self._map = text, None

    def _lines(self) -> dict[int, int]:
        if self._map is None:
            numbers = map(int, self.text.split(" "))
            self._map = dict(zip(numbers, numbers))
        return self._map

    def __getitem__(self, line: int) -> int:
        return self._lines()[line]

    def get(self, line: int, default=None):
        return self._lines().get(line, default)

    def __iter__(self):
        return iter(self._lines())

    def __len__(self) -> int:
        return len(self._lines())


def _ends_text(ends) -> str:
    if isinstance(ends, StatementEnds):
        return ends.text
    return " ".join(f"{line} {end}" for line, end in ends.items())


def _file_result(row, rebuild) -> FileResult:
    relpath, kind, file_digest, parsed, findings, sup, ends, facts = row
    if relpath.__class__ is not str or kind not in KINDS or file_digest.__class__ is not str \
            or parsed.__class__ is not bool or findings.__class__ is not list or facts.__class__ is not dict:
        raise CacheError("a file entry has a field of the wrong type")
    result = FileResult(relpath, kind, file_digest, parsed, findings=[_finding(f) for f in findings])
    if sup is not None:
        result.suppressions = _suppressions(sup)
    if ends:
        if ends.__class__ is not str:
            raise CacheError("statement ends are not text")
        result.statement_ends = StatementEnds(ends)
    if facts:
        result.facts = EncodedFacts(facts, relpath, rebuild)
    return result


def _trusted(fd: int, path: Path) -> str | None:
    """Why a cache file must not be read, or None. Ours means: a regular file this user owns that no one
    else may write, of a sane size."""
    st = os.fstat(fd)
    if not (st.st_mode & 0o170000 == 0o100000):
        return "not a regular file"
    if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & 0o022):
        return "owned or writable by another user"
    if st.st_size > MAX_BYTES:
        return "larger than any cache dbagents writes"
    return None


class Cached(NamedTuple):
    files: dict  # relpath -> FileResult
    project: tuple | None  # (project key, project-rule findings)
    listing: dict | None  # the last walk's folder records (listing.Listing.data)
    stamps: dict  # relpath -> the file's stamp (listing.file_stamp) when its cached digest was taken


EMPTY = Cached({}, None, None, {})


def load(check_root: Path, rebuild: Callable[[str], dict] | None = None) -> tuple[dict, tuple | None]:
    """(relpath -> FileResult, (project key, project-rule findings) or None) from the last run."""
    return load_all(check_root, rebuild)[:2]


def load_all(check_root: Path, rebuild: Callable[[str], dict] | None = None) -> Cached:
    """Everything the last run kept; EMPTY when absent or stale (silently) or when unreadable, malformed or
    not ours (with a note). `rebuild(relpath)` recomputes one file's facts should its cached facts turn out
    malformed when read.
    """
    path = cache_file(check_root)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return EMPTY
    except OSError as exc:
        note(f"ignored the cache {path} ({exc.strerror or exc}); checking without it")
        return EMPTY
    try:
        with os.fdopen(fd, "rb") as fh:
            why = _trusted(fh.fileno(), path)
            if why:
                note(f"ignored the cache {path} ({why}); checking without it")
                return EMPTY
            header = _header(fh.readline(MAX_HEADER))
            if header is None or header.get("engine") != engine_fingerprint() \
                    or header.get("root") != str(check_root.resolve()):
                return EMPTY  # another engine version (or a hash clash): stale, rebuilt quietly
            body = json.loads(fh.read())
        files = [_file_result(row, rebuild) for row in body["files"]]
        project = body["project"]
        if project is not None:
            key, findings = project
            if key.__class__ is not str or findings.__class__ is not list:
                raise CacheError("project findings are malformed")
            project = (key, [_finding(f) for f in findings])
        listing, stamps = checked_listing(body["listing"]), _stamps(body["stamps"])
    except (CacheError, OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
            MemoryError) as exc:
        note(f"ignored the cache {path} ({_why(exc)}); it will be rebuilt")
        return EMPTY
    return Cached({r.relpath: r for r in files}, project, listing, stamps)


def _stamps(value) -> dict:
    if value.__class__ is not dict or not all(s.__class__ is str for s in value.values()):
        raise CacheError("file stamps are malformed")
    return value


def _header(line: bytes) -> dict | None:
    """The first line, if it says it is this file format; an unknown format is reported."""
    try:
        header = json.loads(line)
    except ValueError:
        raise CacheError("not a dbagents cache file") from None
    if header.__class__ is not dict or header.get("format") != FORMAT:
        raise CacheError("not a dbagents cache file")
    if header.get("version") != VERSION:
        return None
    return header


def _why(exc: BaseException) -> str:
    if isinstance(exc, CacheError):
        return str(exc)
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, AttributeError)):
        return "malformed"
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------- writing


def _finding_row(f: Finding) -> list:
    return [f.path, f.line, f.col, f.rule_id, f.message, int(f.severity), f.hint, f.obj, f.end_line]


def _file_row(r: FileResult) -> list:
    sup = r.suppressions
    sup_row = None
    if sup.lines or sup.whole_file is not False:
        whole = False if sup.whole_file is False else (None if sup.whole_file is None else sorted(sup.whole_file))
        sup_row = [[[line, None if c is None else sorted(c)] for line, c in sup.lines.items()], whole]
    ends = _ends_text(r.statement_ends)
    facts = r.facts
    encoded = facts.encoded() if isinstance(facts, EncodedFacts) else {k: codec.encode(v) for k, v in facts.items()}
    return [r.relpath, r.kind, r.digest, r.parsed, [_finding_row(f) for f in r.findings], sup_row, ends, encoded]


def save(check_root: Path, results: dict, project: tuple | None, listing: dict | None = None,
         stamps: dict | None = None) -> None:
    """Write atomically (temp file + rename) into the per-user folder: file 0600, folder 0700."""
    path = cache_file(check_root)
    try:
        header = {"format": FORMAT, "version": VERSION, "engine": engine_fingerprint(),
                  "root": str(check_root.resolve())}
        body = {"files": [_file_row(r) for r in results.values()],
                "project": None if project is None else [project[0], [_finding_row(f) for f in project[1]]],
                "listing": listing, "stamps": stamps or {}}
        # ASCII only: names that are not valid UTF-8 (surrogate escapes) survive as \udcXX escapes
        text = json.dumps(header) + "\n" + json.dumps(body, separators=(",", ":"))
    except CacheError as exc:
        note(f"results not cached ({exc})")
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-check-", suffix=".json")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home just runs without a cache


def clear(check_root: Path) -> bool:
    """Remove this folder's cache file; True if there was one."""
    try:
        cache_file(check_root).unlink()
        return True
    except FileNotFoundError:
        return False
