"""Run the static engine: discover, parse each file once (in parallel), extract facts, apply rules."""

from __future__ import annotations

import ast
import fnmatch
import gc
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dbagents.check import cache as result_cache
from dbagents.check import walk as walk_cache
from dbagents.check.discover import discover
from dbagents.check.facts import extractors
from dbagents.check.project import FileResult, Project
from dbagents.check.registry import SYNTAX_ERROR, static_rules
from dbagents.check.rule import ModuleContext, ModuleRule, ProjectRule
from dbagents.check.source import SourceFile, parse_python, scan_suppressions
from dbagents.config import Config
from dbagents.findings import Finding

PARALLEL_MIN_FILES = 48
# Files that import one of these are always parsed (a syntax problem there is worth reporting).
CORE_TRIGGERS = ("sqlalchemy", "sqlmodel", "alembic", "flask_sqlalchemy")
# A Python file is parsed only if it mentions one of these at all: everything the rules look for (models,
# sessions, engines, raw SQL sinks, database URLs, migrations) needs one of them. The rules' own triggers
# then decide which of them run on it.
GATE = CORE_TRIGGERS + (
    "Mapped[", "mapped_column", "Column(", "relationship(", "__tablename__", "Table(", "DeclarativeBase",
    "declarative", "registry(", "TypeDecorator", "db.Model", "SQLModel", "Session", "session", "engine",
    "execute", "text(", "literal_column", "cursor", "postgres", "mysql", "sqlite", "mssql", "oracle",
    "down_revision", "op.", "select(", "query(", "exec_driver_sql", "literal_binds", "PickleType", "bulk_",
    "MetaData",
)
_GATE_BYTES = tuple(g.encode() for g in GATE)  # below this, a process pool costs more than it saves


@dataclass
class CheckOutcome:
    findings: list[Finding]
    project: Project
    files_seen: int
    files_parsed: int
    cache_hits: int = 0
    notes: list[str] = field(default_factory=list)


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
    """Cheap pre-filter: only files containing some trigger substring are parsed."""
    if kind == "ini":
        return b"[alembic" in data or b"sqlalchemy.url" in data or b"script_location" in data
    if kind == "toml":
        return b"[tool.alembic" in data
    if not any(g in data for g in _GATE_BYTES):
        return False
    _, _, triggers = _plan()
    return any(t in data for t in triggers)


def _hit(triggers, text: str) -> bool:
    return not triggers or any(t in text for t in triggers)


def analyze(path: Path, relpath: str, kind: str, data: bytes, file_digest: str) -> FileResult:
    """Parse one file once, extract its facts and run the module rules on it (worker side).

    The cyclic garbage collector is paused meanwhile: a syntax tree holds no cycles and is freed by reference
    counting when the file is done, while the collector would otherwise re-scan its ~100k young objects
    many times over (a fifth of the parse time).
    """
    collecting = gc.isenabled()
    gc.disable()
    walk_cache.reset()
    try:
        return _analyze(path, relpath, kind, data, file_digest)
    finally:
        walk_cache.reset()
        if collecting:
            gc.enable()


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
    if src.tree is not None and (result.suppressions.lines or result.suppressions.whole_file is not False):
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


def _statement_ends(tree: ast.Module) -> dict[int, int]:
    """line -> end line, for every line of a simple statement that spans several lines."""
    ends: dict[int, int] = {}
    for node in walk_cache.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, _COMPOUND):
            end = node.end_lineno or node.lineno
            if end > node.lineno:
                for line in range(node.lineno, end + 1):
                    ends.setdefault(line, end)
    return ends


def _analyze_batch(batch):
    return [analyze(*item) for item in batch]


def _pool_context():
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_workers(todo: list, jobs: int) -> list[FileResult]:
    if jobs <= 1 or len(todo) < PARALLEL_MIN_FILES:
        return [analyze(*item) for item in todo]
    # Big files first, dealt round-robin into batches so workers finish together.
    todo = sorted(todo, key=lambda item: -len(item[3]))
    nbatches = min(len(todo), jobs * 8)
    batches = [todo[i::nbatches] for i in range(nbatches)]
    results: list[FileResult] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
        for chunk in pool.map(_analyze_batch, batches):
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
) -> CheckOutcome:
    """Run every static rule over `paths`; return findings for the `enabled` rule ids only."""
    files = discover(paths, root, config.exclude)
    cache_root = config.root or root
    cached = result_cache.load(cache_root, root) if use_cache else {}
    results: dict[str, FileResult] = {}
    todo = []
    hits = 0
    for path, relpath, kind in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            results[relpath] = FileResult(relpath, kind, "", findings=[
                Finding(relpath, 0, 0, SYNTAX_ERROR.id, f"cannot read file: {exc.strerror}", SYNTAX_ERROR.severity)
            ])
            continue
        file_digest = result_cache.digest(data)
        previous = cached.get(relpath)
        if previous is not None and previous.digest == file_digest:
            results[relpath] = previous
            hits += previous.parsed
        elif might_matter(data, kind):
            todo.append((path, relpath, kind, data, file_digest))
        else:  # remembered (digest only) so an unchanged tree is not even scanned next time
            results[relpath] = FileResult(relpath, kind, file_digest)
    workers = jobs or config.jobs or os.cpu_count() or 1
    for result in _run_workers(todo, workers):
        results[result.relpath] = result
    if use_cache and todo:
        result_cache.save(cache_root, root, results)

    # Workers finish in any order and cache hits come first: sort, so project facts (and every message
    # built from them) are the same whichever way a file's result was obtained.
    results = dict(sorted(results.items()))
    project = Project(root, config, results)
    findings: list[Finding] = []
    for result in results.values():
        findings.extend(result.findings)
    for cls in static_rules().values():
        if issubclass(cls, ProjectRule) and cls.id in enabled:
            findings.extend(cls().check(project))
    kept = filter_findings(findings, project, enabled)
    return CheckOutcome(kept, project, len(files), sum(r.parsed for r in results.values()), hits)


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
