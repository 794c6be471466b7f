"""The N+1 pytest plugin with pytester: modes, options, inertness, xdist, reports; plus its pure helpers."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from test_nplusone_support import CONFTEST, INSTALLER, MODELS, sa20_python

pytest_plugins = ["pytester"]

# The application's own query helper (a loop in the test body would be the test's repetition, not DBA402).
QUERIES = '''
from sqlalchemy import text


def names(session, ids):
    return [session.execute(text("SELECT name FROM users WHERE id = :id"), {"id": i}).scalar() for i in ids]
'''

N_PLUS_ONE = '''
from sqlalchemy import select, text
from scn_models import User
from scn_queries import names


def test_n_plus_one(session):
    for user in session.scalars(select(User)):
        user.posts


def test_repeats(session):
    names(session, range(1, 4))


def test_clean(session):
    session.scalars(select(User)).all()
'''


@pytest.fixture
def project(pytester, monkeypatch):
    """A user project (models + fixtures) on a SQLite file; the checkout's code on PYTHONPATH."""
    pytester.makepyfile(scn_models=MODELS, conftest=CONFTEST, scn_queries=QUERIES)
    db = pytester.path / "app.sqlite"
    monkeypatch.setenv("SCN_URL", f"sqlite:///{db}")
    monkeypatch.setenv("SCN_AURL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.setenv("PYTHONPATH", str(INSTALLER))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_registered_through_pytest11_entry_point():
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("dbagents") == "dbagents.pytest_plugin.plugin"


def test_inert_when_off_imports_no_sqlalchemy(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(INSTALLER))
    pytester.makepyfile(
        test_inert='''
        import sys

        def test_nothing_loaded(request):
            manager = request.config.pluginmanager
            assert manager.get_plugin("dbagents") is not None          # the entry point is loaded
            assert manager.get_plugin("dbagents-nplusone") is None     # ...but nothing is active
            assert "sqlalchemy" not in sys.modules
            assert "dbagents.pytest_plugin.runtime" not in sys.modules
            assert "dbagents.pytest_plugin.recorder" not in sys.modules
        '''
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "dbagents N+1 summary" not in result.stdout.str()


def test_warn_mode_reports_without_failing(project):
    project.makepyfile(test_app=N_PLUS_ONE)
    result = run(project, "--dbagents-nplusone=warn")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*dbagents N+1 summary (mode warn)*",
            "DBA401 N+1 lazy loads: 1 finding(s) in 1 test(s)",
            "*warning*test_app.py:8*N+1: User.posts lazy-loaded for 3 instances of one query result"
            " (in test_app.py::test_n_plus_one)",
            "*loaded by SELECT users.id, users.name FROM users at test_app.py:7",
            "total: DBA401 1",
        ]
    )
    assert "DBA402" not in result.stdout.str()  # 3 repeats < default threshold 5


def test_fail_mode_fails_the_test_with_file_and_line(project):
    project.makepyfile(test_app=N_PLUS_ONE)
    result = run(project, "--dbagents-nplusone=fail", "--dbagents-repeat-threshold=3")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "DBA401 N+1: User.posts lazy-loaded for 3 instances of one query result  at " in out
    assert "test_app.py:8" in out
    assert "DBA402 statement executed 3 times from one call site: SELECT name FROM users WHERE id = ?" in out
    assert result.ret == 1


def test_ini_mode_threshold_zero_and_allowlist(project):
    project.makeini(
        "[pytest]\ndbagents_nplusone = fail\ndbagents_repeat_threshold = 0\ndbagents_nplusone_allow =\n    User.po*\n"
    )
    project.makepyfile(test_app=N_PLUS_ONE)
    result = run(project)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*no N+1 queries, repeated statements or exceeded budgets found*"])


def test_bad_ini_values_are_usage_errors(project):
    project.makeini("[pytest]\ndbagents_nplusone = loud\n")
    project.makepyfile(test_app=N_PLUS_ONE)
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*dbagents_nplusone = 'loud' in the ini file; use off, warn or fail*"])
    project.makeini("[pytest]\ndbagents_nplusone = warn\ndbagents_repeat_threshold = many\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*dbagents_repeat_threshold = 'many'*use a whole number*"])


def test_budget_marker_works_in_off_mode_without_nplusone(project):
    project.makepyfile(
        test_budget='''
        import pytest
        from sqlalchemy import select
        from scn_models import Post, User


        @pytest.mark.dbagents_max_queries(2)
        def test_over_budget(session):
            for user in session.scalars(select(User)):
                user.posts


        @pytest.mark.dbagents_max_queries(5)
        def test_within_budget(session):
            session.scalars(select(Post)).all()


        @pytest.mark.dbagents_max_queries("five")
        def test_bad_budget(session):
            pass
        '''
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "DBA403 4 SQL statements, budget is 2 (dbagents_max_queries)" in out
    assert "4. SELECT posts.id, posts.user_id FROM posts WHERE ? = posts.user_id" in out
    assert "dbagents_max_queries needs one non-negative integer, got 'five'" in out
    assert "DBA401" not in out  # N+1 detection itself stays off


def test_fixture_queries_do_not_count_against_the_budget(project):
    project.makepyfile(
        test_budget='''
        import pytest
        from sqlalchemy import select
        from scn_models import User


        @pytest.fixture
        def busy(session):
            for _ in range(10):
                session.scalars(select(User)).all()
            return session


        @pytest.mark.dbagents_max_queries(1)
        def test_one_query(busy):
            busy.scalars(select(User)).all()
        '''
    )
    run(project).assert_outcomes(passed=1)


def test_xdist_merges_worker_results(project):
    tests = {}
    for index in range(4):
        tests[f"test_w{index}"] = N_PLUS_ONE.replace("def test_", f"def test_{index}_")
    project.makepyfile(**tests)
    # one SQLite file per worker: the session fixture rebuilds the schema
    project.makepyfile(
        conftest=CONFTEST.replace(
            'URL = os.environ["SCN_URL"]',
            'URL = os.environ["SCN_URL"] + "." + os.environ.get("PYTEST_XDIST_WORKER", "main")',
        )
    )
    result = run(project, "-n", "2", "--dbagents-nplusone=warn", "--dbagents-report=out.json")
    result.assert_outcomes(passed=12)
    report = json.loads((project.path / "out.json").read_text())
    places = sorted((f["rule"], f["path"]) for f in report["findings"])
    assert places == [("DBA401", f"test_w{i}.py") for i in range(4)], report
    assert result.stdout.str().count("lazy-loaded for 3 instances") == 4


def test_sarif_report(project):
    project.makepyfile(test_app=N_PLUS_ONE)
    result = run(project, "--dbagents-nplusone=warn", "--dbagents-report=reports/n1.sarif")
    result.assert_outcomes(passed=3)
    sarif = json.loads((project.path / "reports" / "n1.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert set(rules) == {"DBA401", "DBA402", "DBA403", "DBA404"}
    assert "## Fix" in rules["DBA401"]["help"]["markdown"]
    [finding] = run_["results"]
    assert finding["ruleId"] == "DBA401"
    location = finding["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "test_app.py"
    assert location["physicalLocation"]["region"]["startLine"] == 8
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "User.posts"


def test_sqlalchemy_20_fail_mode(project):
    """The same plugin on SQLAlchemy 2.0.x (a cached venv); the scenarios module covers 2.0 in depth."""
    project.makepyfile(test_app=N_PLUS_ONE)
    python = sa20_python()
    result = project.run(python, "-m", "pytest", "-p", "no:cacheprovider", "--dbagents-nplusone=fail")
    result.assert_outcomes(passed=2, failed=1)
    assert "DBA401 N+1: User.posts lazy-loaded for 3 instances" in result.stdout.str()
    check = project.run(python, "-c", "import sqlalchemy; print(sqlalchemy.__version__)")
    assert check.stdout.str().startswith("2.0.")


# -- pure helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("SELECT a\n  FROM t WHERE id = 5", "SELECT a FROM t WHERE id = ?"),
        ("select * from t where a = 'x''y' and b=1.5", "select * from t where a = ? and b=?"),
        ("SELECT a FROM t WHERE id IN (?, ?, ?)", "SELECT a FROM t WHERE id IN (...)"),
        ("SELECT a FROM t WHERE id IN (%(id_1_1)s::INTEGER, %(id_1_2)s::INTEGER)", "SELECT a FROM t WHERE id IN (...)"),
        ("SELECT a FROM t WHERE id = ANY(ARRAY[1, 2])", "SELECT a FROM t WHERE id = ANY(ARRAY[...])"),
        ("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)", "INSERT INTO t (a, b) VALUES (?, ?), ..."),
        ("SELECT t1.a::text FROM t1 WHERE x = :x -- note", "SELECT t1.a::text FROM t1 WHERE x = ?"),
        ("SELECT $1, %s", "SELECT ?, ?"),
    ],
)
def test_normalize_sql(raw, normalized):
    from dbagents.pytest_plugin.sqlnorm import normalize_sql

    assert normalize_sql(raw) == normalized


def test_transaction_control_is_not_a_query():
    from dbagents.pytest_plugin.sqlnorm import is_transaction_control

    assert is_transaction_control("SAVEPOINT sa_savepoint_1")
    assert is_transaction_control("  release savepoint x")
    assert not is_transaction_control("SELECT 1")


def test_allow_nplusone_nests_and_resets_on_error():
    from dbagents.pytest_plugin import allow, allow_nplusone

    assert not allow.allowed()
    with pytest.raises(RuntimeError):
        with allow_nplusone():
            with allow_nplusone():
                assert allow.allowed()
            assert allow.allowed()
            raise RuntimeError
    assert not allow.allowed()


def test_runtime_rules_are_fully_documented():
    from dbagents.pytest_plugin.rules import RUNTIME_RULES

    assert sorted(RUNTIME_RULES) == ["DBA401", "DBA402", "DBA403", "DBA404"]
    for rule_id, info in RUNTIME_RULES.items():
        assert info.id == rule_id and info.name and info.summary
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
            assert heading in info.help, (rule_id, heading)


def test_user_frame_skips_library_frames(tmp_path):
    from dbagents.pytest_plugin.frames import LIBRARY, MACHINERY, PROJECT, RUNNER, FrameFilter

    frames = FrameFilter(rootdir=Path(__file__).parent)
    assert frames.kind(json.__file__) == LIBRARY  # the standard library
    assert frames.kind(pytest.__file__) == RUNNER
    assert frames.kind(sys.modules["dbagents"].__file__) == MACHINERY
    assert frames.kind(__file__) == PROJECT
    assert frames.kind(str(tmp_path / "elsewhere.py")) == LIBRARY  # outside the rootdir
    filename, line = frames.site(sys._getframe())
    assert filename == __file__ and line > 0
    where = frames.where(sys._getframe())
    assert where.stack[0][0] == __file__ and where.touched is None


def test_project_frames_leave_out_virtualenvs_and_declared_library_paths(tmp_path):
    from dbagents.pytest_plugin.frames import LIBRARY, PROJECT, FrameFilter

    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    frames = FrameFilter(rootdir=tmp_path, library_paths=("vendor", "app/generated/*.py"))
    assert frames.kind(str(tmp_path / "app" / "models.py")) == PROJECT
    assert frames.kind(str(tmp_path / ".venv" / "lib" / "x.py")) == LIBRARY
    assert frames.kind(str(tmp_path / "lib" / "python3.11" / "site-packages" / "pydantic" / "main.py")) == LIBRARY
    assert frames.kind(str(tmp_path / "vendor" / "lib.py")) == LIBRARY
    assert frames.kind(str(tmp_path / "app" / "generated" / "api.py")) == LIBRARY
    assert frames.kind(str(tmp_path / "app" / "generated.py")) == PROJECT


@contextmanager
def installed_recorder(engine):
    """A Recorder (ORM on) listening for the duration of the block; the engine is disposed after."""
    from dbagents.pytest_plugin.recorder import Recorder

    recorder = Recorder(orm=True)
    recorder.install()
    try:
        yield recorder
    finally:
        recorder.uninstall()
        engine.dispose()


def authors_and_books():
    """(engine, Author, Book): an empty in-memory SQLite database, Author.books a lazy collection."""
    from sqlalchemy import ForeignKey, Integer, create_engine
    from sqlalchemy.orm import DeclarativeBase, mapped_column, relationship

    class Base(DeclarativeBase):
        pass

    class Author(Base):  # no annotations: this module has `from __future__ import annotations`
        __tablename__ = "authors"
        id = mapped_column(Integer, primary_key=True)
        books = relationship("Book")

    class Book(Base):
        __tablename__ = "books"
        id = mapped_column(Integer, primary_key=True)
        author_id = mapped_column(ForeignKey("authors.id"))

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    return engine, Author, Book


def test_recorder_counts_every_execution_path_and_groups_only_this_tests_results():
    """execute / executemany / no-parameter statements are all counted (dialect execute events); a lazy
    load carries its origin to the statement; objects loaded while an earlier test was recorded are
    never an N+1 of this one."""
    from sqlalchemy import insert, select, text
    from sqlalchemy.orm import Session

    engine, Author, Book = authors_and_books()
    with installed_recorder(engine) as recorder:
        log = recorder.start()
        with engine.begin() as conn:
            conn.execute(insert(Author), [{"id": 1}, {"id": 2}, {"id": 3}])
            conn.exec_driver_sql("SELECT 1")
            conn.execute(text("SELECT id FROM authors WHERE id = :i"), {"i": 1})
        recorder.stop()
        assert [s.split()[0] for s in log.statements] == ["INSERT", "SELECT", "SELECT"]
        assert sum(log.repeats.values()) == 3  # plain statements, each with this test's line as its stack
        assert {stack[0][0] for _statement, stack in log.repeats} == {__file__}

        with Session(engine) as session:
            recorder.start()
            earlier = session.scalars(select(Author)).all()
            recorder.stop()
            log = recorder.start()
            for author in earlier:
                assert author.books == []
            recorder.stop()
            assert not log.lazy  # marked during the earlier recording
            assert not log.repeats  # relationship loads are DBA401's, never counted for DBA402
            assert len(log.statements) == 3

            session.expunge_all()
            log = recorder.start()
            for author in session.scalars(select(Author)).all():
                author.books
            recorder.stop()
            ((attr, _site, _group), owners), = log.lazy.items()
            assert attr == "Author.books" and len(owners) == 3

        # Objects created (not loaded), even after the loaded ones died and freed their memory, belong
        # to no result: their lazy loads are each fetched alone.
        log = recorder.start()
        with Session(engine) as session:
            assert len(session.scalars(select(Author)).all()) == 3
        with Session(engine) as session:
            created = [Author(id=10 + n) for n in range(30)]
            session.add_all(created)
            session.commit()
            for author in created:
                author.books
        recorder.stop()
        assert not log.lazy


def test_result_marks_keep_one_compiled_statement_and_group_lazy_loads_by_result():
    """Each recorded ORM query result carries its own mark, yet SQLAlchemy reuses one compiled form
    (the mark's number is not in the cache key); lazy loads are grouped by the result that loaded the
    owner, also through a lazy collection load, and a result loaded alone is a group of one."""
    from sqlalchemy import ForeignKey, Integer, create_engine, event, insert, select
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, relationship

    class Base(DeclarativeBase):
        pass

    class Shelf(Base):
        __tablename__ = "shelves"
        id = mapped_column(Integer, primary_key=True)
        books = relationship("Book")

    class Book(Base):
        __tablename__ = "books"
        id = mapped_column(Integer, primary_key=True)
        shelf_id = mapped_column(ForeignKey("shelves.id"))
        pages = relationship("Page")

    class Page(Base):
        __tablename__ = "pages"
        id = mapped_column(Integer, primary_key=True)
        book_id = mapped_column(ForeignKey("books.id"))

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(Shelf), [{"id": 1}, {"id": 2}])
        conn.execute(insert(Book), [{"id": 10, "shelf_id": 1}, {"id": 20, "shelf_id": 2}])
    compiled = {}

    @event.listens_for(engine, "before_cursor_execute")
    def remember(conn, cursor, statement, parameters, context, executemany):
        compiled.setdefault(statement, set()).add(id(context.compiled))

    with installed_recorder(engine) as recorder:
        log = recorder.start()
        for _ in range(3):
            with Session(engine) as session:
                for shelf in session.scalars(select(Shelf)).all():
                    for book in shelf.books:
                        book.pages
            with Session(engine) as session:
                session.get(Shelf, 1).books  # fetched alone: one owner in its group
        recorder.stop()
    assert all(len(ids) == 1 for ids in compiled.values()), compiled
    by_attr = {}
    for (attr, _site, _group), owners in log.lazy.items():
        by_attr.setdefault(attr, []).append(len(owners))
    # Shelf.books: 3 results x 2 shelves, and 3 gets x 1 shelf; Book.pages: one book per shelf, two
    # shelves per result -> 2 owners per result although each came from its own collection load.
    assert sorted(by_attr["Shelf.books"]) == [1, 1, 1, 2, 2, 2]
    assert sorted(by_attr["Book.pages"]) == [2, 2, 2]


def test_display_paths_are_relative_and_libraries_are_named_from_their_package(tmp_path):
    from dbagents.pytest_plugin.report import display_path, repository_root

    assert display_path(str(tmp_path / "app" / "x.py"), tmp_path) == "app/x.py"
    venv_file = tmp_path / ".venv" / "lib" / "python3.10" / "site-packages" / "pydantic" / "main.py"
    assert display_path(str(venv_file), tmp_path) == "pydantic/main.py"  # a virtualenv inside the rootdir
    assert display_path("/usr/lib/python3/dist-packages/yaml/x.py", tmp_path) == "yaml/x.py"
    assert display_path("/opt/other/y.py", tmp_path) == "/opt/other/y.py"
    (tmp_path / ".git").mkdir()
    (tmp_path / "backend").mkdir()
    assert repository_root(tmp_path / "backend") == tmp_path


def test_a_lazy_load_finding_names_the_call_chain_of_the_result_it_counts():
    """A site that first lazy-loads for one object (not an N+1) and later for a multi-row result from
    another line: the finding's stack is the multi-row result's, not the first one seen there."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from dbagents.pytest_plugin.analysis import lazy_load_hits

    def book_counts(authors):
        return [len(author.books) for author in authors]

    engine, Author, _Book = authors_and_books()
    with engine.begin() as conn:
        conn.execute(insert(Author), [{"id": 1}, {"id": 2}, {"id": 3}])
    with installed_recorder(engine) as recorder:
        with Session(engine) as session:
            log = recorder.start()
            alone_line = sys._getframe().f_lineno + 1
            book_counts([session.get(Author, 1)])
            many_line = sys._getframe().f_lineno + 1
            book_counts(session.scalars(select(Author).where(Author.id > 1)).all())
            recorder.stop()
    hit, = lazy_load_hits(log, "t")
    assert (hit["obj"], hit["count"]) == ("Author.books", 2)
    callers = [line for filename, line in hit["stack"] if filename == __file__]
    assert many_line in callers and alone_line not in callers
    assert hit["loaded_by"]["line"] == many_line


def test_a_merged_finding_names_the_places_of_its_worst_test():
    """The count of a finding is its worst test's; the stack, loading query and loops shown with it are
    that test's too, not those of whichever test happened to run first."""
    from dbagents.pytest_plugin.report import merge

    def hit(nodeid, count, caller):
        return {"rule": "DBA401", "file": "/p/app.py", "line": 9, "obj": "User.posts", "count": count,
                "nodeid": nodeid, "stack": [["/p/app.py", 9], ["/p/test_app.py", caller]],
                "loaded_by": {"file": "/p/app.py", "line": caller, "statement": "SELECT"}, "touched": None}

    merged, = merge([hit("t::first", 2, 10), hit("t::worst", 5, 20), hit("t::third", 3, 30)])
    assert merged.count == 5 and merged.tests == {"t::first": 2, "t::worst": 5, "t::third": 3}
    assert merged.stack[-1] == ["/p/test_app.py", 20] and merged.loaded_by["line"] == 20
