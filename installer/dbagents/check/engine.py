"""Run the static engine: discover, parse each file once (in parallel), extract facts, apply rules."""

from __future__ import annotations

import ast
import fnmatch
import gc
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dbagents.check import cache as result_cache
from dbagents.check import listing as listings
from dbagents.check import walk as walk_cache
from dbagents.check.discover import discover, relative_to_root
from dbagents.check.facts import extractors
from dbagents.check.facts.dburls import DIALECTS
from dbagents.check.project import FileResult, Project
from dbagents.check.project_settings import apply_settings
from dbagents.check.registry import SYNTAX_ERROR, static_rules
from dbagents.check.roles import apply_context
from dbagents.check.rule import ModuleContext, ModuleRule, ProjectRule
from dbagents.check.source import SourceFile, parse_python, scan_suppressions
from dbagents.config import Config
from dbagents.findings import Finding

# Files that import one of these are always parsed (a syntax problem there is worth reporting).
CORE_TRIGGERS = ("sqlalchemy", "sqlmodel", "alembic", "flask_sqlalchemy")
_CORE_BYTES = tuple(t.encode() for t in CORE_TRIGGERS)
# Any other Python file is parsed only when it shows one of these signs: what every rule looks for outside a
# file importing a database library needs one of them. Mapped classes (also through re-exported
# `Column`/`relationship` and Flask-SQLAlchemy's `db.`), migrations, statements run or built, session
# factories and engines, a database URL; a session shared by `asyncio.gather()` tasks is checked as a pair.
# Names only usable once imported from SQLAlchemy or Alembic (DeclarativeBase, Table, MetaData, registry,
# TypeDecorator, `op`) need no sign of their own: the import, or an `sa.`/`db.` prefix, already shows.
# Plain substrings are searched first; a word-bounded pattern only where its substring occurs.
_SIGN_WORDS = tuple(w.encode() for w in (
    "__table", "__mapper_args__", "Mapped[", "mapped_column", "declarative", "declared_attr", "relationship(",
    "column_property(", "literal_binds", "literal_column", "exec_driver_sql", "down_revision", "run_migrations",
    ".execute(", ".executemany(", ".scalars(", ".scalar(", "sessionmaker", "create_engine", "create_async_engine",
    "engine_from_config",
))
_SIGN_PATTERNS = tuple((hint.encode(), re.compile(pattern.encode())) for hint, pattern in (
    ("Column(", r"\bColumn\("), ("select(", r"\bselect\("), (".query", r"\.query\b"), ("db.", r"\bdb\.\w"),
))
# a database URL: one of these schemes right before `://` (optionally `+driver`)
_URL_SCHEME = re.compile(rb"\b(?:" + "|".join(sorted(DIALECTS | {"sqlite"})).encode() + rb")(?:\+\w+)?$")


def _has_database_url(data: bytes) -> bool:
    at = data.find(b"://")
    while at != -1:
        if _URL_SCHEME.search(data, max(0, at - 48), at):
            return True
        at = data.find(b"://", at + 3)
    return False


def _shows_database_code(data: bytes) -> bool:
    if any(t in data for t in _CORE_BYTES) or any(w in data for w in _SIGN_WORDS):
        return True
    if b"gather(" in data and (b"session" in data or b"AsyncSession" in data):
        return True
    return any(hint in data and pattern.search(data) for hint, pattern in _SIGN_PATTERNS) or _has_database_url(data)


PARALLEL_MIN_FILES = 48  # below this, a process pool costs more than it saves
# Larger files are reported (DBA000) and not read: parsing and indexing cost about 140 MB of memory and a
# second per MB of source, and the largest hand-written or generated files of real projects stay near 1 MB.
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass
class CheckOutcome:
    findings: list[Finding]
    project: Project
    files_seen: int
    files_parsed: int
    cache_hits: int = 0
    notes: list[str] = field(default_factory=list)
    # relpath -> the bytes this run read, for every parsed file it read (with a `focus`, the files taken
    # from the cache by their stamps are not read): the baseline hashes reported statements
    sources: dict[str, bytes] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _plan():
    """(module rules, extractor modules, all trigger bytes) — built once per process."""
    module_rules = [cls() for cls in static_rules().values() if issubclass(cls, ModuleRule)]
    extractor_mods = list(extractors().values())
    triggers = set(CORE_TRIGGERS)
    for rule in module_rules:
        triggers.update(rule.triggers)
    for mod in extractor_mods:
        triggers.update(getattr(mod, "TRIGGERS", ()))
    return module_rules, extractor_mods, tuple(sorted(t.encode() for t in triggers))


def might_matter(data: bytes, kind: str) -> bool:
    """Cheap pre-filter: parse only files showing database code, and containing some rule's trigger."""
    if kind == "ini":
        return b"[alembic" in data or b"sqlalchemy.url" in data or b"script_location" in data
    if kind == "toml":
        return b"[tool.alembic" in data
    if not _shows_database_code(data):
        return False
    _, _, triggers = _plan()
    return any(t in data for t in triggers)


def _hit(triggers, text: str) -> bool:
    return not triggers or any(t in text for t in triggers)


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector (reference counting still frees everything acyclic).

    Syntax trees, facts and cached results hold no cycles, but they are hundreds of thousands of young
    objects that the collector would otherwise re-scan over and over: a fifth of the parse time, and most
    of the time spent loading the cache.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def not_checked(relpath: str, message: str, hint: str, line: int = 0) -> Finding:
    """The DBA000 note for a file (or a project-wide rule) the engine could not check."""
    return Finding(relpath, line, 1 if line else 0, SYNTAX_ERROR.id, f"not checked: {message}", SYNTAX_ERROR.severity,
                   hint)


def analyze(path: Path, relpath: str, kind: str, data: bytes, file_digest: str) -> FileResult:
    """Parse one file once, extract its facts and run the module rules on it (worker side)."""
    walk_cache.reset()
    try:
        with paused_gc():
            return _analyze(path, relpath, kind, data, file_digest)
    except RecursionError:  # ast.parse bounds nesting by the recursion limit; an analysis may go deeper
        return FileResult(relpath, kind, file_digest, parsed=True, findings=[
            not_checked(relpath, "its code is nested too deeply to analyse (an expression or statement "
                        "chain deeper than Python's recursion limit)", "split the deeply nested expression", 1)
        ])
    finally:
        walk_cache.reset()


def _analyze(path: Path, relpath: str, kind: str, data: bytes, file_digest: str) -> FileResult:
    module_rules, extractor_mods, _ = _plan()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", errors="replace")
    result = FileResult(relpath, kind, file_digest, parsed=True, suppressions=scan_suppressions(text))
    src = SourceFile(path, relpath, kind, text)
    if kind == "python":
        src.tree, src.problem = parse_python(text, relpath)
        if src.problem:
            p = src.problem
            if p.fatal:
                msg = f"cannot parse this file ({p.message} at line {p.line}); it was not checked"
            else:
                spans = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in p.skipped)
                msg = f"cannot parse line {p.line} ({p.message}); lines {spans} were skipped, the rest was checked"
            result.findings.append(
                Finding(relpath, p.line, max(p.col, 1), SYNTAX_ERROR.id, msg, SYNTAX_ERROR.severity,
                        "run dbagents under the Python version your project targets, or fix the syntax")
            )
            if src.tree is None:
                return result
        walk_cache.begin(src.tree)
    if src.tree is not None:  # `# noqa` on a statement's last line, and the baseline's statement text
        result.statement_ends = _statement_ends(src.tree)
    for mod in extractor_mods:
        if kind not in getattr(mod, "KINDS", ("python",)) or not _hit(getattr(mod, "TRIGGERS", ()), text):
            continue
        value = mod.extract(src)
        if value is not None:
            result.facts[mod.KEY] = value
    ctx = ModuleContext(src, result.facts)
    for rule in module_rules:
        if kind in rule.kinds and _hit(rule.triggers, text):
            result.findings.extend(rule.check(ctx))
    return result


_COMPOUND = tuple(
    getattr(ast, name)
    for name in ("FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor", "While", "With",
                 "AsyncWith", "Try", "TryStar", "Match")
    if hasattr(ast, name)
)


_SIMPLE = tuple(cls for cls in ast.stmt.__subclasses__() if cls not in _COMPOUND)  # no statement inside them


def _statement_ends(tree: ast.Module) -> dict[int, int]:
    """line -> end line, for every line of a simple statement that spans several lines."""
    ends: dict[int, int] = {}
    for node in walk_cache.of_type(tree, *_SIMPLE):  # the index's per-class lists: statements only
        end = node.end_lineno or node.lineno
        if end > node.lineno:
            for line in range(node.lineno, end + 1):
                ends.setdefault(line, end)
    return ends


def screen(path: Path, relpath: str, kind: str, data: bytes, file_digest: str) -> FileResult:
    """Pre-filter one file and analyse it if it might matter (worker side, so screening uses every core too)."""
    if might_matter(data, kind):
        return analyze(path, relpath, kind, data, file_digest)
    return FileResult(relpath, kind, file_digest)  # remembered (digest only): not even screened next time


def _screen_batch(batch):
    return [screen(*item) for item in batch]


def _pool_context():
    import multiprocessing  # not at the top: a one-file run (the hook) never starts a pool

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_workers(todo: list, jobs: int) -> list[FileResult]:
    if jobs <= 1 or len(todo) < PARALLEL_MIN_FILES:
        return [screen(*item) for item in todo]
    from concurrent.futures import ProcessPoolExecutor  # not at the top: a one-file run needs no pool

    # Big files first, dealt round-robin into batches so workers finish together.
    todo = sorted(todo, key=lambda item: -len(item[3]))
    nbatches = min(len(todo), jobs * 8)
    batches = [todo[i::nbatches] for i in range(nbatches)]
    results: list[FileResult] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
        for chunk in pool.map(_screen_batch, batches):
            results.extend(chunk)
    return results


def _per_file_ignored(relpath: str, rule_id: str, per_file: dict[str, list[str]]) -> bool:
    for pattern, ids in per_file.items():
        if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(relpath.rsplit("/", 1)[-1], pattern):
            if any(rule_id.startswith(i) or i == "ALL" for i in ids):
                return True
    return False


def check_tree(
    paths: list[Path],
    *,
    root: Path,
    config: Config,
    enabled: set[str],
    jobs: int | None = None,
    use_cache: bool = True,
    focus: Path | None = None,
) -> CheckOutcome:
    """Run every static rule over `paths`; return findings for the `enabled` rule ids only.

    `focus` is the file a run judges (the hook's edited file): it is always read, while every other file
    whose stamp (size, times, inode) is the one its cached result was taken with is not, and folders come
    from the cached listing where they did not change. Such a run rewrites the cache only when more than
    that file changed (FOCUS_DRIFT). Its findings are the focus file's to judge: unless the focus is an Alembic
    revision, the rules that only report in revisions are not run (nor the revision graph built).
    """
    with paused_gc():
        return _check_tree(paths, root=root, config=config, enabled=enabled, jobs=jobs, use_cache=use_cache,
                           focus=focus)


# With a focus: folders re-listed plus other files re-read beyond which the cache is rewritten (their
# stamps stored), so that later runs need not do the same again.
FOCUS_DRIFT = 32


class _TooLarge(Exception):
    pass


def read_source(path: Path) -> bytes:
    """A checked file's bytes; _TooLarge beyond MAX_FILE_BYTES (never read whole, whatever its size)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise _TooLarge(size)
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _TooLarge(len(data))
    return data


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _unread(relpath: str, kind: str, finding: Finding) -> FileResult:
    return FileResult(relpath, kind, "", findings=[finding])


def _check_tree(paths, *, root, config, enabled, jobs, use_cache, focus) -> CheckOutcome:
    def rebuild(relpath: str) -> dict:  # facts of one file whose cached facts were malformed
        path, kind = where[relpath]
        try:
            data = read_source(path)
        except (OSError, _TooLarge):
            return {}
        return screen(path, relpath, kind, data, result_cache.digest(data)).facts

    state = result_cache.load_all(root, rebuild) if use_cache else result_cache.EMPTY
    listing = listings.Listing(state.listing, reuse=focus is not None)
    skipped: list[tuple[str, str]] = []
    files = discover(paths, root, config.exclude, skipped=skipped, listing=listing)
    where = {relpath: (path, kind) for path, relpath, kind in files}
    cached, cached_project = state.files, state.project
    focus_rel = relative_to_root(focus, root) if focus is not None else None
    results: dict[str, FileResult] = {}
    for relpath, kind in skipped:
        results[relpath] = _unread(relpath, kind, not_checked(
            relpath, "a symbolic link to a file outside the checked folder (not followed)",
            "check the folder it points into, or name the file on the command line"))
    todo = []
    hits = reread = 0
    read: dict[str, bytes] = {}  # parsed files' bytes, kept for the findings' statements (never read twice)
    now = listings.now_ns()
    stamps: dict[str, str] = {}  # relpath -> stamp of the file when the digest of its result was taken
    for path, relpath, kind in files:
        previous = cached.get(relpath)
        st = None
        if focus_rel is not None and previous is not None and relpath != focus_rel:
            known = state.stamps.get(relpath)
            st = _stat(path)
            if known is not None and st is not None and listings.stamp(st, now) == known:
                results[relpath] = previous  # unchanged since its digest was taken: not read
                hits += previous.parsed
                stamps[relpath] = known
                continue
            reread += 1
        try:
            st = st or os.stat(path)
            data = read_source(path)
        except _TooLarge as exc:
            size = exc.args[0]
            results[relpath] = _unread(relpath, kind, not_checked(
                relpath, f"{size / 1048576:.1f} MiB is more than the {MAX_FILE_BYTES // 1048576} MiB dbagents "
                "reads of one file", "exclude generated files, or split the file"))
            continue
        except OSError as exc:
            results[relpath] = _unread(relpath, kind, Finding(
                relpath, 0, 0, SYNTAX_ERROR.id, f"cannot read file: {exc.strerror}", SYNTAX_ERROR.severity))
            continue
        stamp = listings.stamp(st, now)  # taken before reading: a later change shows as another stamp
        if stamp is not None:
            stamps[relpath] = stamp
        file_digest = result_cache.digest(data)
        if previous is not None and previous.digest == file_digest:
            results[relpath] = previous
            hits += previous.parsed
            if previous.parsed:
                read[relpath] = data
        else:
            todo.append((path, relpath, kind, data, file_digest))
            read[relpath] = data
    workers = jobs or config.jobs or os.cpu_count() or 1
    for result in _run_workers(todo, workers):
        results[result.relpath] = result

    # Workers finish in any order and cache hits come first: sort, so project facts (and every message
    # built from them) are the same whichever way a file's result was obtained.
    results = dict(sorted(results.items()))
    project = Project(root, config, results)
    static = static_rules()  # the live and runtime ids in `enabled` change nothing here (the hook leaves them out)
    key = result_cache.project_key(results, {r for r in enabled if r in static}, config) if use_cache else ""
    kept_project = cached_project
    if cached_project is not None and cached_project[0] == key:
        project_findings = cached_project[1]  # nothing any project rule reads has changed
    else:
        # A run judging one file that is no revision leaves out the rules that only report in revisions; its
        # findings are then not all the project's, and the cache keeps the last complete set instead.
        partial = focus_rel is not None and not _is_revision(results.get(focus_rel))
        project_findings = _project_findings(project, enabled, revisions=not partial)
        if not partial:
            kept_project = (key, project_findings)
    if focus_rel is not None:
        worth_saving = ((cached_project is None and kept_project is not None)  # the first complete set
                        or any(item[1] != focus_rel for item in todo)
                        or listing.relisted + reread > FOCUS_DRIFT)
    else:
        worth_saving = (todo or cached_project is None or cached_project[0] != key or listing.changed()
                        or stamps != state.stamps)
    if use_cache and worth_saving:
        result_cache.save(root, results, kept_project, listing.data, stamps)
    findings: list[Finding] = list(project_findings)
    for result in results.values():
        findings.extend(result.findings)
    kept = apply_context(apply_settings(filter_findings(findings, project, enabled), project), project)
    sources = {relpath: data for relpath, data in read.items() if results[relpath].parsed}
    return CheckOutcome(kept, project, len(files), sum(r.parsed for r in results.values()), hits, sources=sources)


def _is_revision(result: FileResult | None) -> bool:
    """Whether a file's facts make it an Alembic revision (the only files revision rules report in)."""
    facts = result.facts.get("alembic") if result is not None else None
    return facts is not None and facts.revision is not None


def _project_findings(project: Project, enabled: set[str], revisions: bool = True) -> list[Finding]:
    """Findings of the enabled project rules; without `revisions`, of those that report outside revisions."""
    findings: list[Finding] = []
    for cls in static_rules().values():
        if issubclass(cls, ProjectRule) and cls.id in enabled and (revisions or not cls.revision_files_only):
            try:
                findings.extend(cls().check(project))
            except RecursionError:  # facts chained deeper than the recursion limit (e.g. endless re-exports)
                findings.append(not_checked("", f"project-wide rule {cls.id} stopped: the project's facts are "
                                            "chained too deeply to follow", "report this to dbagents with the "
                                            "files involved"))
    return findings


def filter_findings(findings, project: Project, enabled: set[str]) -> list[Finding]:
    """Drop findings of disabled rules, `# noqa`/ignore-file suppressions and per-file-ignores."""
    kept = set()
    for f in findings:
        if f.rule_id not in enabled:
            continue
        result = project.files.get(f.path)
        if result is not None and result.suppresses(f):
            continue
        if f.path and _per_file_ignored(f.path, f.rule_id, project.config.per_file_ignores):
            continue
        kept.add(f)
    return sorted(kept)
