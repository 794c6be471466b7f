"""pytest11 entry point of dbagents: runtime N+1 detection, off unless asked for.

Inert by default: this module imports nothing beyond pytest, registers options and the marker, and
does no work unless `--dbagents-nplusone=warn|fail` (or ini `dbagents_nplusone`) is set, or a test
carries `@pytest.mark.dbagents_max_queries(n)` (then only that test's statements are counted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODES = ("off", "warn", "fail")
DEFAULT_THRESHOLD = 5
_PLUGIN_NAME = "dbagents-nplusone"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbagents", "dbagents runtime N+1 detection (SQLAlchemy)")
    group.addoption(
        "--dbagents-nplusone",
        choices=MODES,
        default=None,
        help="detect N+1 queries (DBA401-DBA404): warn reports them, fail also fails the test. "
        "Default: ini dbagents_nplusone, else off.",
    )
    group.addoption(
        "--dbagents-repeat-threshold",
        type=int,
        default=None,
        metavar="N",
        help=f"DBA402: report a normalized statement run N or more times from one call site in one test "
        f"(default {DEFAULT_THRESHOLD}; 0 = never).",
    )
    group.addoption(
        "--dbagents-report",
        default=None,
        metavar="PATH",
        help="write the findings to PATH: SARIF if it ends in .sarif, JSON otherwise.",
    )
    parser.addini("dbagents_nplusone", "N+1 detection mode: off, warn or fail", default="off")
    parser.addini(
        "dbagents_repeat_threshold", "DBA402 repeat threshold (0 = never)", default=str(DEFAULT_THRESHOLD)
    )
    parser.addini(
        "dbagents_nplusone_allow", "Model.attr fnmatch patterns whose lazy loads are allowed", type="linelist"
    )
    parser.addini(
        "dbagents_nplusone_library_paths",
        "paths or globs, relative to the rootdir, whose code is not the project's (findings point past it)",
        type="linelist",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dbagents_max_queries(n): fail the test if its body runs more than n SQL statements (DBA403)",
    )
    mode = _mode(config)
    if mode != "off":
        _activate(config, mode)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Off mode: enable statement counting only if some collected test has a query budget."""
    if config.pluginmanager.has_plugin(_PLUGIN_NAME):
        return
    if any(item.get_closest_marker("dbagents_max_queries") for item in items):
        _activate(config, "off")


def _activate(config: pytest.Config, mode: str) -> None:
    from dbagents.pytest_plugin.runtime import NPlusOnePlugin, Settings

    report = config.getoption("dbagents_report")
    settings = Settings(
        mode=mode,
        threshold=_threshold(config),
        allow=tuple(p.strip() for p in config.getini("dbagents_nplusone_allow") if p.strip()),
        report=_report_path(config, report) if report else None,
        library_paths=tuple(p.strip() for p in config.getini("dbagents_nplusone_library_paths") if p.strip()),
    )
    config.pluginmanager.register(NPlusOnePlugin(config, settings), _PLUGIN_NAME)


def _report_path(config: pytest.Config, given: str) -> Path:
    """--dbagents-report as given absolutely, else relative to where pytest was started, and then it must stay
    inside the rootdir (an `addopts` line in a repository's config could otherwise aim it anywhere)."""
    path = Path(given)
    if path.is_absolute():
        return path
    path = config.invocation_params.dir / path
    rootdir = config.rootpath.resolve()
    resolved = path.resolve()  # `..` and symlinked folders included
    if resolved != rootdir and not resolved.is_relative_to(rootdir):
        raise pytest.UsageError(f"--dbagents-report {given}: a relative report path must stay inside the rootdir "
                                f"{rootdir}; give an absolute path to write elsewhere")
    return path.absolute()


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("dbagents_nplusone") or str(config.getini("dbagents_nplusone")).strip().lower()
    if mode not in MODES:
        raise pytest.UsageError(f"dbagents_nplusone = {mode!r} in the ini file; use off, warn or fail")
    return mode


def _threshold(config: pytest.Config) -> int:
    value = config.getoption("dbagents_repeat_threshold")
    if value is None:
        raw = str(config.getini("dbagents_repeat_threshold")).strip()
        try:
            value = int(raw)
        except ValueError:
            raise pytest.UsageError(
                f"dbagents_repeat_threshold = {raw!r} in the ini file; use a whole number (0 = never)"
            ) from None
    if value < 0:
        raise pytest.UsageError("dbagents repeat threshold must be 0 or more")
    return value
