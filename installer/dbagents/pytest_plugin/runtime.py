"""The active part of the plugin: per-test recording, failing, xdist merging, summary and report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from dbagents.pytest_plugin import analysis

WORKER_KEY = "dbagents_nplusone_hits"


@dataclass(frozen=True)
class Settings:
    mode: str  # off | warn | fail ("off" = only dbagents_max_queries budgets are checked)
    threshold: int
    allow: tuple[str, ...]
    report: Path | None
    library_paths: tuple[str, ...] = ()  # rootdir-relative globs whose frames are not the project's


class NPlusOnePlugin:
    """Registered by `plugin.py` only when N+1 detection or a query budget is in use."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.hits: list[dict] = []
        self._recorder = None
        self.is_worker = hasattr(config, "workerinput")

    # SQLAlchemy is imported here, at the first test call, never in an xdist controller.
    def recorder(self):
        if self._recorder is None:
            from dbagents.pytest_plugin.recorder import Recorder

            self._recorder = Recorder(orm=self.settings.mode != "off", allow_patterns=self.settings.allow,
                                      rootdir=self.config.rootpath, library_paths=self.settings.library_paths)
            self._recorder.install()
        return self._recorder

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.uninstall()
            self._recorder = None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item):
        budget = _budget(item)
        if self.settings.mode == "off" and budget is None:
            return (yield)
        recorder = self.recorder()
        recorder.start()
        error: BaseException | None = None
        try:
            result = yield
        except BaseException as exc:  # re-raised below, after the log is analysed
            error = exc
            result = None
        log = recorder.stop()
        hits = self._analyse(item, log, budget)
        self.hits.extend(hits)
        failing = [h for h in hits if h["failed"]]
        if hits and (error is not None or not failing):
            item.add_report_section("call", "dbagents", _explain(hits, self.config.rootpath))
        if error is not None:
            raise error
        if failing:
            pytest.fail("dbagents found database problems in this test:\n" + _explain(failing, self.config.rootpath),
                        pytrace=False)
        return result

    def _analyse(self, item: pytest.Item, log, budget: int | None) -> list[dict]:
        nodeid = item.nodeid
        hits: list[dict] = []
        if self.settings.mode != "off":
            hits += analysis.lazy_load_hits(log, nodeid)
            hits += analysis.repeated_statement_hits(log, nodeid, self.settings.threshold, str(item.path),
                                                     str(self.config.rootpath))
            hits += analysis.async_lazy_hits(log, nodeid)
        if budget is not None:
            hit = analysis.budget_hit(log, nodeid, budget, _test_site(item))
            if hit:
                hits.append(hit)
        for hit in hits:
            hit["failed"] = hit["rule"] == "DBA403" or self.settings.mode == "fail"
        return hits

    # -- xdist ---------------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.hits.extend(output.get(WORKER_KEY, []))

    # -- end of session ------------------------------------------------------------------------
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            self.config.workeroutput[WORKER_KEY] = self.hits
            return
        if self.settings.report is not None:
            from dbagents.pytest_plugin.report import merge, write_report

            extra = {"source": "pytest", "mode": self.settings.mode}
            write_report(self.settings.report, merge(self.hits), self.config.rootpath, extra)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.is_worker or (self.settings.mode == "off" and not self.hits):
            return
        terminalreporter.write_sep("=", f"dbagents N+1 summary (mode {self.settings.mode})")
        if not self.hits:
            terminalreporter.write_line("no N+1 queries, repeated statements or exceeded budgets found")
        else:  # the report module is only needed (and imported) when there is something to show
            from dbagents.pytest_plugin.report import merge, summary_lines

            verbose = self.config.get_verbosity() > 0
            for line in summary_lines(merge(self.hits), self.config.rootpath, verbose):
                terminalreporter.write_line(line)
        if self.settings.report is not None:
            terminalreporter.write_line(f"report written to {self.settings.report}")

    def pytest_unconfigure(self) -> None:
        self.close()


def _budget(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker("dbagents_max_queries")
    if marker is None:
        return None
    value = marker.args[0] if marker.args else marker.kwargs.get("n")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise pytest.UsageError(
            f"{item.nodeid}: dbagents_max_queries needs one non-negative integer, got {value!r}; "
            "write @pytest.mark.dbagents_max_queries(5)"
        )
    return value


def _test_site(item: pytest.Item):
    line = item.location[1]
    return (str(item.path), line + 1 if line is not None else 0)


def _explain(hits: list[dict], root: Path) -> str:
    from dbagents.pytest_plugin.report import context_line, display_path, hint, merge

    lines = []
    for hit in hits:
        merged = merge([hit])[0]
        where = f"{display_path(hit['file'], root)}:{hit['line']}" if hit["file"] else "?"
        lines.append(f"  {analysis.describe(hit)}  at {where}")
        extra = context_line(merged, root, with_statement=False)
        if extra:
            lines.append(f"      {extra}")
        if hit["rule"] in ("DBA401", "DBA404"):
            lines.append(f"      fix: {hint(merged, root)}")
        if hit["rule"] == "DBA403":
            for number, statement in enumerate(hit["statements"], 1):
                lines.append(f"      {number:3d}. {analysis.short(statement, 160)}")
    return "\n".join(lines)
