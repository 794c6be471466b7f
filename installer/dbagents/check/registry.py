"""All rules: static ones from dbagents/check/rules/, plus the docs of live, scratch and runtime rules."""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
import pkgutil
from functools import lru_cache

from dbagents.check.rule import GROUPS, ModuleRule, ProjectRule, Rule
from dbagents.errors import InputError
from dbagents.findings import RuleInfo, Severity

SYNTAX_ERROR = RuleInfo(
    "DBA000",
    "syntax-error",
    "A file could not be parsed or was not checked, fully or in part; the rest of the run goes on.",
    Severity.WARNING,
    "## What it does\nReports Python files this interpreter cannot parse, among those the engine reads: files that "
    "show database code (files that do not are skipped before parsing, so their syntax is not judged). When the "
    "cause is syntax newer than the running Python (for example PEP 695 `type` aliases on 3.11), only the "
    "statements that do not parse are skipped and the rest of the file is still checked.\n\n"
    "It also says `not checked: …` for files the engine refuses to read or analyse, so that nothing is skipped "
    "silently: a symbolic link that leads outside the checked folder (never followed, so no finding or SARIF "
    "snippet can quote a file outside the project), a file larger than 4 MiB (parsing costs about 140 bytes of "
    "memory per byte of source), code nested deeper than Python's recursion limit, and a project-wide rule "
    "stopped by such nesting.\n\n## Why is this bad\nCode that is not parsed is not checked.\n\n"
    "## Example\n```python\ntype UserId = int  # needs Python 3.12\n```\n\n## Fix\nRun dbagents "
    "with the Python version your project targets, or fix the syntax error. For a file that is not checked, "
    "follow the hint: point the check at the link's target, split a generated file, or exclude it "
    "(`[tool.dbagents] extend-exclude`).",
)

# Groups of the rules that live outside the static engine (they have no module here).
EXTERNAL_GROUPS = {
    "DBA000": GROUPS,
    "DBA213": ("migrations",),
    "DBA214": ("migrations", "schema"),
    "DBA215": ("migrations",),
    "DBA301": ("schema", "performance"),
    "DBA302": ("schema",),
    "DBA303": ("schema", "performance"),
    "DBA304": ("schema", "performance"),
    "DBA305": ("schema",),
    "DBA306": ("schema",),
    "DBA307": ("schema",),
    "DBA309": ("schema", "performance"),
    "DBA310": ("schema", "migrations"),
    "DBA311": ("schema",),
}


@lru_cache(maxsize=1)
def static_rules() -> dict[str, type[Rule]]:
    """Rule id -> class for every rule module in dbagents.check.rules."""
    from dbagents.check import rules as package

    found: dict[str, type[Rule]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, (ModuleRule, ProjectRule))
                and value not in (ModuleRule, ProjectRule)
                and value.__module__ == module.__name__
            ):
                if value.id in found:
                    raise RuntimeError(f"duplicate rule id {value.id}")
                found[value.id] = value
    return dict(sorted(found.items()))


def _external_infos() -> dict[str, RuleInfo]:
    infos: dict[str, RuleInfo] = {}
    for module_name, attr in (
        ("dbagents.live", "LIVE_RULES"),
        ("dbagents.scratch", "SCRATCH_RULES"),
        ("dbagents.pytest_plugin.rules", "RUNTIME_RULES"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        infos.update(getattr(module, attr, {}) or {})
    return infos


@lru_cache(maxsize=1)
def all_rule_infos() -> dict[str, RuleInfo]:
    """Every documented rule id -> RuleInfo (static, live, scratch, runtime, DBA000)."""
    infos = {SYNTAX_ERROR.id: SYNTAX_ERROR}
    for rid, info in _external_infos().items():
        infos[rid] = info
    from dbagents.check.roles import where_doc

    for rid, cls in static_rules().items():
        info = cls.info()
        infos[rid] = dataclasses.replace(info, help=info.help + "\n" + where_doc(rid).rstrip())
    return dict(sorted(infos.items()))


def groups_of(rule_id: str) -> tuple[str, ...]:
    cls = static_rules().get(rule_id)
    if cls is not None:
        return tuple(cls.groups)
    return EXTERNAL_GROUPS.get(rule_id, ())


def _matches(rule_id: str, name: str, patterns: list[str]) -> bool:
    for pat in patterns:
        pat = pat.strip()
        if not pat:
            continue
        if pat.upper() == "ALL" or rule_id.startswith(pat.upper()) or fnmatch.fnmatch(name, pat.lower()):
            return True
    return False


def check_patterns(patterns: list[str], source: str) -> None:
    """Unknown ids/prefixes in --select/--ignore/config are input errors, not silent no-ops."""
    infos = all_rule_infos()
    for pat in patterns:
        if not any(_matches(rid, info.name, [pat]) for rid, info in infos.items()):
            raise InputError(f"{source}: {pat!r} matches no rule; run `dbagents rules` to list them")


def selected_ids(groups: list[str], select: list[str], ignore: list[str], static_only: bool = False) -> set[str]:
    """Rule ids enabled for this run (static and external alike; with `static_only`, the static engine's
    alone, without importing the live, scratch and runtime rules: what the hook needs)."""
    for group in groups:
        if group not in GROUPS:
            raise InputError(f"unknown group {group!r}; use one of {', '.join(GROUPS)}")
    if static_only:
        names = {SYNTAX_ERROR.id: SYNTAX_ERROR.name, **{rid: cls.name for rid, cls in static_rules().items()}}
    else:
        names = {rid: info.name for rid, info in all_rule_infos().items()}
    chosen = set()
    for rid, name in names.items():
        in_group = not groups or any(g in groups_of(rid) for g in groups) or rid == "DBA000"
        if not in_group:
            continue
        cls = static_rules().get(rid)
        if select:
            if not _matches(rid, name, select) and rid != "DBA000":
                continue
        elif cls is not None and not cls.default_enabled:
            continue
        if _matches(rid, name, ignore):
            continue
        chosen.add(rid)
    return chosen
