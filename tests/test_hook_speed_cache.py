"""What makes the hook fast on a warm cache is never wrong: the cached folder listing and file stamps are reused
only while they still hold. A new, deleted or renamed file or folder, an edited .gitignore (in the tree or above
it), a new or removed pyvenv.cfg, another exclude list, a retargeted symbolic link, another file edited outside
the hook: each is noticed, and the run finds what a run without any cache finds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbagents.check import cache as result_cache
from dbagents.check import engine
from dbagents.check import listing as listings
from dbagents.check.discover import discover
from dbagents.check.registry import selected_ids
from dbagents.config import load_config

CUSTOMER = '''from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.base import Base


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    orders: Mapped[list["Order"]] = relationship(back_populates="customer")
'''
ORDER = '''from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.base import Base


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped["Customer"] = relationship(back_populates="orders")
'''
BASE = "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"


@pytest.fixture
def settled(monkeypatch):
    """Stamps count as settled at once (the real rule waits listing.RACY_NS); `settled()` then lets a clock tick
    pass, so that a change made after a walk never shares the walk's timestamps (as it cannot in real use)."""
    monkeypatch.setattr(listings, "now_ns", lambda: time.time_ns() + 10 * listings.RACY_NS)
    return lambda: time.sleep(0.05)


def make_tree(root: Path) -> Path:
    for rel, text in {
        "pyproject.toml": "[project]\nname = 'p'\n\n[tool.dbagents]\n",
        ".gitignore": "build/\n*.gen.py\n",
        "app/__init__.py": "",
        "app/base.py": BASE,
        "app/customer.py": CUSTOMER,
        "app/order.py": ORDER,
        "app/deep/inner/mod.py": "x = 1\n",
        "app/deep/inner/other.py": "y = 2\n",
        "app/skip.gen.py": "z = 3\n",
        "build/out.py": "w = 4\n",
        "tools/env/lib/site.py": "v = 5\n",
        "migrations/alembic.ini": "[alembic]\nscript_location = .\n",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def walk(root: Path, previous: dict | None = None, exclude=()):
    listing = listings.Listing(json.loads(json.dumps(previous)) if previous else None, reuse=previous is not None)
    skipped: list = []
    files = discover([root], root, list(exclude), skipped=skipped, listing=listing)
    return [rel for _, rel, _ in files], skipped, listing


def fresh(root: Path, exclude=()):
    skipped: list = []
    files = discover([root], root, list(exclude), skipped=skipped)
    return [rel for _, rel, _ in files], skipped


def test_an_unchanged_tree_is_not_listed_again(tmp_path, settled):
    root = make_tree(tmp_path / "p").resolve()
    files, _, first = walk(root)
    assert "app/deep/inner/mod.py" in files and "build/out.py" not in files and "app/skip.gen.py" not in files
    assert first.relisted == len(first.data["folders"])
    again, _, second = walk(root, first.data)
    assert again == files and second.relisted == 0 and not second.changed()


def test_stamps_too_recent_to_trust_are_not_reused(tmp_path):
    """Without the settled clock: a tree written just now is listed again in full, every time."""
    root = make_tree(tmp_path / "p").resolve()
    _, _, first = walk(root)
    files, _, second = walk(root, first.data)
    assert files == fresh(root)[0] and second.relisted == len(second.data["folders"])


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _remove_folder(root: Path) -> None:
    for path in (root / "app/deep/inner").iterdir():
        path.unlink()
    (root / "app/deep/inner").rmdir()


def _file_to_folder(root: Path) -> None:
    (root / "app/deep/inner/other.py").unlink()
    _write(root / "app/deep/inner/other.py/x.py", "x = 1\n")


CHANGES = {
    "new file": lambda r: _write(r / "app/deep/inner/new.py", "n = 1\n"),
    "deleted file": lambda r: (r / "app/deep/inner/other.py").unlink(),
    "renamed file": lambda r: (r / "app/deep/inner/mod.py").rename(r / "app/deep/inner/moved.py"),
    "new folder": lambda r: _write(r / "app/deep/fresh/more/a.py", "a = 1\n"),
    "removed folder": _remove_folder,
    "gitignore edited in place": lambda r: (r / ".gitignore").write_text("build/\n*.gen.py\nmod.py\n"),
    "gitignore re-includes": lambda r: (r / ".gitignore").write_text("build/\n"),
    "nested gitignore created": lambda r: _write(r / "app/deep/.gitignore", "inner/other.py\n"),
    "pyvenv.cfg created": lambda r: _write(r / "app/deep/inner/pyvenv.cfg", "home = /usr\n"),
    "pyvenv.cfg removed": lambda r: (r / "tools/env/pyvenv.cfg").unlink(),
    "file replaced by a folder": _file_to_folder,
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_in_the_tree_is_noticed(tmp_path, settled, change):
    root = make_tree(tmp_path / "p").resolve()
    _write(root / "tools/env/pyvenv.cfg", "home = /usr\n")
    files, _, first = walk(root)
    assert files == fresh(root)[0] and "tools/env/lib/site.py" not in files
    settled()
    CHANGES[change](root)
    expected = fresh(root)
    assert expected[0] != files, "the change must change what is checked"
    got, skipped, second = walk(root, first.data)
    assert (got, skipped) == expected
    assert second.changed()
    again, _, _ = walk(root, second.data)  # the new records hold in their turn
    assert again == expected[0]


def test_other_exclude_globs_list_everything_again(tmp_path, settled):
    root = make_tree(tmp_path / "p").resolve()
    _, _, first = walk(root)
    got, _, second = walk(root, first.data, exclude=["app/deep"])
    assert got == fresh(root, exclude=["app/deep"])[0] and "app/deep/inner/mod.py" not in got
    assert second.relisted == len(second.data["folders"])


def test_a_gitignore_above_the_walk_is_followed(tmp_path, settled):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitignore").write_text("*.tmp.py\n")
    root = make_tree(repo / "proj").resolve()
    _write(root / "app/keep.tmp.py", "k = 1\n")
    files, _, first = walk(root)
    assert "app/keep.tmp.py" not in files
    settled()
    (repo / ".gitignore").write_text("nothing\n")
    got, _, _ = walk(root, first.data)
    assert got == fresh(root)[0] and "app/keep.tmp.py" in got


def test_a_retargeted_symbolic_link_is_noticed(tmp_path, settled):
    root = make_tree(tmp_path / "p").resolve()
    outside = tmp_path / "elsewhere.py"
    outside.write_text("o = 1\n")
    link = root / "app/linked.py"
    link.symlink_to(root / "app/base.py")
    files, skipped, first = walk(root)
    assert "app/linked.py" in files and not skipped
    settled()
    tmp = root / "app/.tmp-link"
    tmp.symlink_to(outside)
    tmp.replace(link)  # what `ln -sfn` does
    got, skipped, _ = walk(root, first.data)
    assert (got, skipped) == fresh(root) and skipped == [("app/linked.py", "python")]


@pytest.mark.parametrize("bad", ["../../etc", "a/b", "..", ""])
def test_a_tampered_record_is_listed_again_never_followed(tmp_path, settled, bad):
    root = make_tree(tmp_path / "p").resolve()
    _, _, first = walk(root)
    data = json.loads(json.dumps(first.data))
    data["folders"]["app"][2].append(f"{bad}/passwd.py" if bad else "")
    data["folders"]["."][3].append([bad, None])
    got, _, second = walk(root, data)
    assert got == fresh(root)[0] and second.relisted == 2


# ------------------------------------------------------------------------------------- the engine with a focus


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in {"pyproject.toml": "[project]\nname = 'p'\n\n[tool.dbagents]\n", "app/__init__.py": "",
                      "app/base.py": BASE, "app/customer.py": CUSTOMER, "app/order.py": ORDER}.items():
        _write(root / rel, text)
    return root.resolve()


def run(root: Path, focus: Path | None = None, use_cache: bool = True):
    config = load_config(root)
    enabled = selected_ids([], config.select, config.ignore)
    outcome = engine.check_tree([root], root=root, config=config, enabled=enabled, jobs=1, use_cache=use_cache,
                                focus=focus)
    return sorted((f.path, f.line, f.col, f.rule_id, f.message) for f in outcome.findings)


@pytest.fixture
def reads(monkeypatch):
    """Names of the files the engine reads (the cached rest is taken by its stamps)."""
    seen: list[str] = []
    real = engine.read_source
    monkeypatch.setattr(engine, "read_source", lambda path: seen.append(Path(path).name) or real(path))
    return seen


def test_with_a_focus_only_the_edited_file_is_read_and_the_cache_is_left_alone(tmp_path, settled, reads):
    root = project(tmp_path)
    before = run(root)
    cache_file = result_cache.cache_file(root)
    written = cache_file.stat().st_mtime_ns
    settled()
    focus = root / "app/customer.py"
    focus.write_text(CUSTOMER + "# edited\n")
    reads.clear()
    got = run(root, focus)
    assert reads == ["customer.py"]
    assert cache_file.stat().st_mtime_ns == written  # one edited file: not worth rewriting the cache
    assert got == run(root, use_cache=False) == before


EDITS_ELSEWHERE = {
    "edited": lambda r: (r / "app/order.py").write_text(ORDER.replace("customer: Mapped", "buyer: Mapped")),
    "deleted": lambda r: (r / "app/order.py").unlink(),
    "created": lambda r: _write(r / "app/more/order2.py", ORDER.replace("Order", "Order2").replace('"orders"',
                                                                                                 '"orders2"')),
    "ignored": lambda r: _write(r / ".gitignore", "order.py\n"),
    "excluded": lambda r: (r / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.dbagents]\n"
                                                            "extend-exclude = ['app/order.py']\n"),
}


@pytest.mark.parametrize("change", EDITS_ELSEWHERE)
def test_with_a_focus_changes_elsewhere_reach_the_edited_file(tmp_path, settled, change):
    root = project(tmp_path)
    before = run(root)
    settled()
    EDITS_ELSEWHERE[change](root)
    focus = root / "app/customer.py"
    focus.write_text(CUSTOMER + "# edited\n")
    expected = run(root, use_cache=False)
    assert expected != before, "the change must change the findings"
    assert run(root, focus) == expected
    assert run(root, focus) == expected  # and from what that run kept


def test_focus_runs_rewrite_the_cache_once_other_files_changed(tmp_path, settled, reads):
    root = project(tmp_path)
    run(root)
    settled()
    (root / "app/order.py").write_text(ORDER.replace("customer: Mapped", "buyer: Mapped"))
    focus = root / "app/customer.py"
    assert any(f[3] == "DBA103" and f[0] == "app/customer.py" for f in run(root, focus))
    settled()
    reads.clear()
    run(root, focus)
    assert reads == ["customer.py"]  # order.py's new stamp was kept by the run before


def test_hook_reports_what_check_only_files_reports_after_changes_elsewhere(tmp_path):
    """The real processes and the real clock: stamps settle (listing.RACY_NS), then another file is edited
    outside the hook; the hook's findings are those of `dbagents check --only-files`."""
    root = project(tmp_path)
    env = {**os.environ, "DBAGENTS_CACHE_DIR": str(tmp_path / "cache")}

    def cli(*args, payload=None):
        return subprocess.run([sys.executable, "-m", "dbagents", *args], cwd=root, env=env, input=payload,
                              capture_output=True, text=True, timeout=120)

    assert cli("check", "--no-baseline").returncode in (0, 1)
    time.sleep(listings.RACY_NS / 1e9 + 0.2)
    (root / "app/order.py").write_text(ORDER.replace("customer: Mapped", "buyer: Mapped"))
    (root / "app/customer.py").write_text(CUSTOMER + "# edited\n")
    payload = json.dumps({"hook_event_name": "PostToolUse", "tool_name": "Edit", "cwd": str(root),
                          "tool_input": {"file_path": str(root / "app/customer.py")}})
    hook = cli("hook", "--min-severity", "info", payload=payload)
    check = cli("check", "--only-files", "--format", "json", "--fail-on", "info", "app/customer.py")
    assert hook.returncode == 2 and check.returncode == 1, (hook.stderr, check.stderr)
    expected = sorted(f"app/customer.py:{f['line']}:{f['column']}: {f['rule']}"
                      for f in json.loads(check.stdout)["findings"])
    got = sorted(line.split(" ", 2)[0] + " " + line.split(" ", 2)[1] for line in hook.stderr.splitlines()[1:-1])
    assert got == expected and any("DBA103" in line for line in got)


# ------------------------------------------------------------------------------------------ what the hook loads


@pytest.mark.parametrize("select, ignore", [([], []), (["DBA1"], []), ([], ["DBA105", "naive-datetime"]),
                                            (["ALL"], ["DBA2"]), (["security"], [])])
def test_the_hooks_rule_choice_is_checks_without_the_live_and_runtime_rules(select, ignore):
    from dbagents.check.registry import static_rules

    static = set(static_rules()) | {"DBA000"}
    assert selected_ids([], select, ignore, static_only=True) == selected_ids([], select, ignore) & static


def test_the_hook_imports_no_process_pool_nor_live_or_runtime_rules(tmp_path):
    root = project(tmp_path)
    payload = json.dumps({"hook_event_name": "PostToolUse", "tool_name": "Edit", "cwd": str(root),
                          "tool_input": {"file_path": str(root / "app/customer.py")}})
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "dbagents", "hook"], cwd=root, input=payload,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 2), proc.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "dbagents.check.engine" in imported and "dbagents.check.facts.sql" in imported
    unwanted = ("multiprocessing", "concurrent.futures", "dbagents.live", "dbagents.scratch", "dbagents.pytest_plugin",
                "click", "dbagents.cli")
    assert not [name for name in imported if name.split(".")[0] in unwanted or name.startswith(unwanted)]


def test_project_rules_are_not_run_again_for_an_edit_of_a_file_without_facts(tmp_path, monkeypatch):
    root = project(tmp_path)
    _write(root / "app/api.py", "from sqlalchemy import select\n\n\ndef names(session):\n    return 1\n")
    run(root)
    calls = []
    real = engine._project_findings
    monkeypatch.setattr(engine, "_project_findings", lambda *a, **k: calls.append(1) or real(*a, **k))
    (root / "app/api.py").write_text("from sqlalchemy import select\n\n\ndef names(session):\n    return 2\n")
    assert run(root, root / "app/api.py") == run(root, use_cache=False)
    assert len(calls) == 1  # the run without a cache; the hook's run reused the project rules' findings
    (root / "app/order.py").write_text(ORDER.replace("customer: Mapped", "buyer: Mapped"))
    calls.clear()
    assert run(root, root / "app/order.py") == run(root, use_cache=False)
    assert len(calls) == 2


REVISION = '''"""add note"""
from alembic import op
import sqlalchemy as sa

revision = "b2"
down_revision = "a1"


def upgrade():
    op.add_column("customer", sa.Column("note", sa.Text(), nullable=False))


def downgrade():
    op.drop_column("customer", "note")
'''


def with_revisions(tmp_path: Path) -> Path:
    root = project(tmp_path)
    _write(root / "migrations/alembic.ini", "[alembic]\nscript_location = .\n")
    _write(root / "migrations/env.py", "from alembic import context\n")
    _write(root / "migrations/versions/a1.py", REVISION.replace('"b2"', '"a1"').replace('"a1"\n', "None\n", 1)
           .replace("note", "memo"))
    _write(root / "migrations/versions/b2.py", REVISION)
    return root


def test_an_edit_of_a_model_runs_no_revision_rule_and_keeps_the_projects_findings(tmp_path, monkeypatch):
    """Revision-only rules (DBA2xx) report nothing a model edit can be told about: the hook's run leaves them
    out and builds no revision graph, finds in the edited file what a full run finds there, and leaves the
    cache's project findings complete for the next full run."""
    root = with_revisions(tmp_path)
    full = run(root, use_cache=False)
    assert {f[3] for f in full if f[0].startswith("migrations/versions/")} >= {"DBA201"}
    run(root)
    built = []
    real_get = engine.Project.get
    monkeypatch.setattr(engine.Project, "get", lambda self, key: built.append(key) or real_get(self, key))
    focus = root / "app/customer.py"
    focus.write_text(CUSTOMER + "# edited\n")
    expected = run(root, use_cache=False)
    built.clear()
    got = run(root, focus)
    assert "alembic" not in built and "models" in built
    assert [f for f in got if f[0] == "app/customer.py"] == [f for f in expected if f[0] == "app/customer.py"]
    assert not [f for f in got if f[3].startswith("DBA2")]
    assert run(root) == expected  # the next full run has every revision finding again


def test_an_edit_of_a_revision_runs_the_revision_rules(tmp_path):
    root = with_revisions(tmp_path)
    run(root)
    focus = root / "migrations/versions/b2.py"
    focus.write_text(REVISION + "# edited\n")
    got = [f for f in run(root, focus) if f[0] == "migrations/versions/b2.py"]
    assert got == [f for f in run(root, use_cache=False) if f[0] == "migrations/versions/b2.py"]
    assert any(f[3] == "DBA201" for f in got)


def test_rules_said_to_report_only_in_revisions_do(tmp_path):
    """The mark that lets a model edit skip a rule is checked against what the rule reports: every finding
    of its failing examples is in a file whose facts make it a revision, and every DBA2xx project rule is
    marked (the other project rules report in models, settings and code)."""
    from dbagents.check.registry import static_rules
    from dbagents.check.rule import ProjectRule
    from dbagents.config import Config

    marked = {rid: cls for rid, cls in static_rules().items() if getattr(cls, "revision_files_only", False)}
    assert set(marked) == {rid for rid, cls in static_rules().items()
                           if issubclass(cls, ProjectRule) and rid.startswith("DBA2")}
    for rid, cls in marked.items():
        for index, example in enumerate(cls.invalid):
            root = tmp_path / f"{rid}-{index}"
            for rel, text in {example.path: example.code, **example.files}.items():
                _write(root / rel, text)
            outcome = engine.check_tree([root], root=root, config=Config(), enabled={rid}, jobs=1,
                                        use_cache=False)
            found = [f for f in outcome.findings if f.rule_id == rid]
            assert found, (rid, index)
            assert all(engine._is_revision(outcome.project.files.get(f.path)) for f in found), (rid, found)
