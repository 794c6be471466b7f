"""DBA402 is about a real loop: the same normalized statement N+ times from one project call site.

Never schema reflection (`inspect()`: PRAGMA / sqlite_master on SQLite, pg_catalog and information_schema
on PostgreSQL), DDL, transaction control or savepoints; separate calls from separate lines are separate call
sites, also when each call is a request an app serves in another thread (as a test client does).
"""

from __future__ import annotations

import json

import pytest

from test_nplusone_support import line_of, postgres_urls, run_pytest, sqlite_urls, write_project

APP = '''
from scn_models import Post, User
from sqlalchemy import MetaData, Table, Column, Integer, inspect, select, text
from sqlalchemy.orm import selectinload


def name_of(session, user_id):
    return session.execute(text("SELECT name FROM users WHERE id = :id"), {"id": user_id}).scalar()  # NAME


def all_names(session, ids):
    return [name_of(session, user_id) for user_id in ids]  # HANDLER_LOOP


def posts_of(session, user_ids):
    return [session.execute(text("SELECT id FROM posts WHERE user_id = :id"), {"id": user_id}).all()
            for user_id in user_ids]  # POSTS_LOOP


def notify(session, channels):
    for channel in channels:  # CHANNELS
        if channel == "db":
            session.execute(text("SELECT name FROM users WHERE id = 1"))  # ONCE_PER_CALL


def user_with_posts(session, user_id):
    query = select(User).where(User.id == user_id).options(selectinload(User.posts))
    return session.scalars(query).one()  # EAGER


def users_with_posts(session, ids):
    return [user_with_posts(session, user_id) for user_id in ids]  # EAGER_LOOP


def describe_tables(engine, names):
    inspector = inspect(engine)
    return [inspector.get_columns(name) for name in names]  # REFLECT


def create_and_drop(engine, count):
    for number in range(count):
        table = Table(f"scratch_{number}", MetaData(), Column("id", Integer, primary_key=True))
        table.create(engine)
        table.drop(engine)


def add_posts(session, count):
    """One flush; rows with and without a given key are two INSERT shapes, each sent once per row."""
    session.add_all([Post(id=500 + n, user_id=1) if n % 2 else Post(user_id=1) for n in range(count)])
    session.flush()  # ONE_FLUSH


def commit_each(session, count):
    for _ in range(count):
        session.add(Post(user_id=2))
        session.commit()  # COMMIT_LOOP


def savepoints(session, count):
    for _ in range(count):
        with session.begin_nested():  # SAVEPOINT and RELEASE SAVEPOINT each time
            pass
'''

# A test client (as Starlette's TestClient does, from site-packages): each request is served in a worker
# thread while the test's thread waits. The project declares it a library path.
CLIENT = '''
import threading


def serve(handler, *args):
    result = []
    worker = threading.Thread(target=lambda: result.append(handler(*args)))
    worker.start()
    worker.join()
    return result[0]
'''

TESTS = '''
from sqlalchemy import inspect

from app import (add_posts, all_names, commit_each, create_and_drop, describe_tables, name_of, notify,
                 posts_of, savepoints, users_with_posts)
from testclient.client import serve


def test_six_calls_from_six_lines(session):
    name_of(session, 1)
    name_of(session, 2)
    name_of(session, 3)
    name_of(session, 1)
    name_of(session, 2)
    name_of(session, 3)


def test_six_requests_from_six_lines(engine):
    from sqlalchemy.orm import Session

    def handler(user_id):
        with Session(engine) as session:
            return name_of(session, user_id)

    serve(handler, 1)
    serve(handler, 2)
    serve(handler, 3)
    serve(handler, 1)
    serve(handler, 2)
    serve(handler, 3)


def test_a_loop_in_the_test(session):
    for user_id in [1, 2, 3, 1, 2, 3]:
        name_of(session, user_id)  # TEST_LOOP


def test_a_loop_in_the_handler(engine):
    from sqlalchemy.orm import Session

    def handler(ids):
        with Session(engine) as session:
            return all_names(session, ids)

    assert len(serve(handler, [1, 2, 3, 1, 2, 3])) == 6  # REQUEST


def test_the_tests_loop_around_a_loop_that_runs_it_once(session):
    for user_id in [1, 2, 3, 1, 2, 3]:
        name_of(session, user_id)
        notify(session, ["db", "mail"])  # TEST_LOOP_ONCE


def test_the_tests_loop_around_a_loop_that_repeats_it(session):
    for user_id in [1, 2]:  # TEST_LOOP_AROUND
        name_of(session, user_id)
        posts_of(session, [1, 2, 3])  # REPEATS_EACH_CALL


def test_a_loop_of_queries_with_eager_loads(session):
    assert [len(user.posts) for user in users_with_posts(session, [1, 2, 3])] == [2, 2, 2]


def test_schema_reflection_is_not_a_loop(engine):
    for _ in range(3):
        describe_tables(engine, ["users", "posts", "comments"])
    inspector = inspect(engine)
    for _ in range(6):
        inspector.get_table_names()
        inspector.has_table("users")


def test_ddl_is_not_a_loop(engine):
    create_and_drop(engine, 6)


def test_one_flush_is_not_a_loop(session):
    add_posts(session, 12)
    session.rollback()


def test_a_commit_in_a_loop(session):
    commit_each(session, 3)


def test_savepoints_are_not_a_loop(session):
    savepoints(session, 6)
'''


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def loop_run(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"n1-loops-{request.param}")
    (root / "testclient").mkdir()
    write_project(root, {"app.py": APP, "test_loops.py": TESTS, "testclient/__init__.py": "",
                         "testclient/client.py": CLIENT}, "dbagents_nplusone_library_paths = testclient\n")
    if request.param == "sqlite":
        urls = sqlite_urls(root)
    else:
        urls = postgres_urls(request.getfixturevalue("pg_server").createdb("nplusone_loops"))
    import sys

    done = run_pytest(sys.executable, root, "--dbagents-nplusone=fail", "--dbagents-repeat-threshold=3",
                      "--dbagents-report=report.json", **urls)
    assert (root / "report.json").exists(), done.stdout + done.stderr
    return done, json.loads((root / "report.json").read_text())


def test_only_the_loops_fail(loop_run):
    done, _report = loop_run
    tail = done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 failed, 8 passed" in done.stdout, tail
    assert "FAILED test_loops.py::test_a_commit_in_a_loop" in done.stdout, tail
    assert "FAILED test_loops.py::test_the_tests_loop_around_a_loop_that_repeats_it" in done.stdout, tail
    assert "FAILED test_loops.py::test_a_loop_in_the_handler" in done.stdout, tail
    assert "FAILED test_loops.py::test_a_loop_of_queries_with_eager_loads" in done.stdout, tail


def findings_of(report, name):
    return [f for f in report["findings"] if any(t["test"] == f"test_loops.py::{name}" for t in f["tests"])]


def test_the_findings_are_the_loops_at_the_project_line(loop_run):
    _done, report = loop_run
    commit_loop, = findings_of(report, "test_a_commit_in_a_loop")
    finding, = findings_of(report, "test_a_loop_in_the_handler")
    assert (commit_loop["rule"], commit_loop["path"], commit_loop["line"]) == ("DBA402", "app.py",
                                                                               line_of(APP, "COMMIT_LOOP"))
    assert commit_loop["statement"].startswith("INSERT INTO posts (user_id) VALUES (?)")
    assert commit_loop["tests"] == [{"test": "test_loops.py::test_a_commit_in_a_loop", "count": 3}]
    assert commit_loop["loops"] == [{"path": "app.py", "line": line_of(APP, "COMMIT_LOOP") - 2}]
    assert (finding["rule"], finding["path"], finding["line"]) == ("DBA402", "app.py", line_of(APP, "NAME"))
    assert finding["tests"] == [{"test": "test_loops.py::test_a_loop_in_the_handler", "count": 6}]
    assert finding["statement"] == "SELECT name FROM users WHERE id = ?"
    assert finding["loops"][0] == {"path": "app.py", "line": line_of(APP, "HANDLER_LOOP")}
    # the request ran in a worker thread: the test thread's line is part of its call site
    assert finding["stack"][-1] == {"path": "test_loops.py", "line": line_of(TESTS, "REQUEST")}


def test_a_project_loop_repeated_by_the_tests_loop_must_repeat_by_itself(loop_run):
    """The test calls a project loop six times and that loop runs the statement once per call: the six
    come from the test's loop, not a finding. A project loop that runs it three times per call is."""
    _done, report = loop_run
    assert findings_of(report, "test_the_tests_loop_around_a_loop_that_runs_it_once") == []
    finding, = findings_of(report, "test_the_tests_loop_around_a_loop_that_repeats_it")
    assert (finding["path"], finding["line"], finding["count"]) == ("app.py", line_of(APP, "POSTS_LOOP") - 1, 6)
    assert finding["statement"] == "SELECT id FROM posts WHERE user_id = ?"
    assert finding["loops"] == [{"path": "app.py", "line": line_of(APP, "POSTS_LOOP") - 1},
                                {"path": "test_loops.py", "line": line_of(TESTS, "TEST_LOOP_AROUND")}]


def test_a_querys_eager_loads_are_not_findings_of_their_own(loop_run):
    """selectinload sends a second statement with every query: one loop, one finding (the query's)."""
    _done, report = loop_run
    finding, = findings_of(report, "test_a_loop_of_queries_with_eager_loads")
    assert (finding["rule"], finding["path"], finding["line"]) == ("DBA402", "app.py", line_of(APP, "EAGER"))
    assert finding["statement"].startswith("SELECT users.id, users.name FROM users WHERE users.id = ?")
    assert finding["count"] == 3
    assert finding["loops"][0] == {"path": "app.py", "line": line_of(APP, "EAGER_LOOP")}


def test_a_loop_in_the_test_body_is_the_tests_own_repetition(loop_run):
    done, report = loop_run
    assert "test_a_loop_in_the_test" not in {t["test"].split("::")[1] for f in report["findings"] for t in f["tests"]}
    assert "FAILED test_loops.py::test_a_loop_in_the_test" not in done.stdout
    handler = line_of(APP, "HANDLER_LOOP")
    assert f"in the loop at app.py:{handler}, via app.py:{handler}" in done.stdout
    assert "testclient" not in done.stdout


def test_bookkeeping_statements_are_never_counted():
    from dbagents.pytest_plugin.sqlnorm import is_bookkeeping

    for statement in ('PRAGMA main.table_xinfo("users")', "SELECT sql FROM sqlite_master WHERE name = ?",
                      "SELECT c.relname FROM pg_catalog.pg_class c", "select current_schema()",
                      "SELECT column_name FROM information_schema.columns", "SAVEPOINT sa_savepoint_1",
                      "RELEASE SAVEPOINT sa_savepoint_1", "ROLLBACK TO SAVEPOINT x", "BEGIN", "COMMIT",
                      "CREATE TABLE t (id INTEGER)", "  alter table t add column x int", "DROP INDEX ix",
                      "TRUNCATE t", "SET LOCAL lock_timeout = '1s'", "SHOW search_path", "COMMENT ON TABLE t IS ?"):
        assert is_bookkeeping(statement), statement
    for statement in ("SELECT name FROM users WHERE id = ?", "UPDATE users SET name = ? WHERE id = ?",
                      "INSERT INTO settings (key) VALUES (?)", "DELETE FROM posts WHERE id = ?",
                      "WITH x AS (SELECT 1) SELECT * FROM x"):
        assert not is_bookkeeping(statement), statement


def test_find_loops_reads_the_loops_innermost_first_and_test_code_is_recognised(tmp_path):
    from dbagents.pytest_plugin.loops import find_loops, is_test_code

    source = tmp_path / "svc.py"
    source.write_text(
        "def f(rows):\n"
        "    for row in rows:\n"
        "        while row:\n"
        "            row = g(row)\n"
        "    return [g(r) for r in rows]\n"
        "def g(x):\n"
        "    return x\n"
        "def create(doc):\n"
        "    for attempt in range(10):\n"
        "        try:\n"
        "            return g(doc)\n"
        "        except ValueError:\n"
        "            doc = doc + 1\n"
    )
    file = str(source)
    # g has no loop; in f the while is innermost, inside the for
    assert find_loops([(file, 7), (file, 4)]) == [(file, 3), (file, 2)]
    assert find_loops([(file, 4), (file, 5)]) == [(file, 3), (file, 2), (file, 5)]  # innermost frame first
    assert find_loops([(file, 7)]) == []
    assert find_loops([(file, 11), (file, 5)]) == [(file, 5)]  # a retry loop around `return` does not repeat
    assert find_loops([(str(tmp_path / "missing.py"), 3)]) == []
    root = tmp_path / "test"  # a project that happens to live in a folder named "test"
    test_file = str(root / "check_things.py")
    assert is_test_code(test_file, test_file, str(root))
    assert is_test_code(str(root / "tests" / "utils" / "factories.py"), test_file, str(root))
    assert is_test_code(str(root / "conftest.py"), test_file, str(root))
    assert not is_test_code(str(root / "app" / "svc.py"), test_file, str(root))


@pytest.mark.parametrize("action", ["always", "error"])
def test_reading_a_loop_adds_no_warning_of_the_users_file(tmp_path, action):
    """The plugin parses the user's file inside their test: a compiler warning about that file (an invalid
    escape sequence) must not appear again in their test's warnings, nor become an error that hides the loop
    under -W error."""
    import warnings

    from dbagents.pytest_plugin.loops import find_loops

    source = tmp_path / "slugs.py"
    source.write_text(
        "import re\n"
        "def numbered(rows):\n"
        "    for row in rows:\n"
        '        yield re.match("^(\\d+)-", row)\n'
    )
    assert "\\d" in source.read_text()  # the escape sequence is in the file as written
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter(action)
        loops = find_loops([(str(source), 4)])
    assert loops == [(str(source), 3)]
    assert [str(w.message) for w in seen] == []


def test_a_pass_ends_at_a_statement_outside_the_loops_frame():
    """One pass of a project loop (lines 3-5 of app.py, called from test.py:20): statements below that
    frame stay in it; one run elsewhere ends it; one with no project frame or a stack cut short cannot
    tell and ends nothing."""
    from dbagents.pytest_plugin.analysis import _largest_pass
    from dbagents.pytest_plugin.frames import MAX_STACK

    stack = (("app.py", 4), ("test.py", 20))
    query = ("SELECT 1", stack)
    inside = ("SELECT 2", (("db.py", 7), ("app.py", 5), ("test.py", 20)))
    outside = ("SELECT 3", (("app.py", 9), ("test.py", 20)))
    next_call = ("SELECT 4", (("app.py", 4), ("test.py", 21)))
    no_frame = ("SELECT 5", ())
    cut_short = ("SELECT 6", tuple(("deep.py", n) for n in range(MAX_STACK)))
    order = [query, inside, query, no_frame, query, cut_short, query, outside, query, query, next_call, query]
    assert _largest_pass(order, {query}, stack, (0, "app.py", 3, 5)) == 4
    assert _largest_pass(order, {query}, stack, (0, "app.py", 3, 4)) == 3  # line 5 is then outside the loop


def test_one_pass_is_a_run_of_the_outermost_project_loop_inside_the_tests_loop(tmp_path):
    """`for group in groups: lookup(group); for table in tables: update(...)` called from a test's loop:
    one pass is one run of the loop over groups (the lookup between the updates stays inside it)."""
    from dbagents.pytest_plugin.analysis import _pass_frame

    service = tmp_path / "svc.py"
    service.write_text(
        "def fix(groups, tables):\n"
        "    for group in groups:\n"
        "        lookup(group)\n"
        "        for table in tables:\n"
        "            update(table, group)\n"
    )
    test = tmp_path / "test_fix.py"
    test.write_text("def test_fix():\n    for _ in range(2):\n        fix([1, 2], ['a', 'b'])\n")
    stack = ((str(service), 5), (str(test), 3))
    assert _pass_frame(stack, str(test), str(tmp_path)) == (0, str(service), 2, 5)
    assert _pass_frame(((str(service), 5),), str(test), str(tmp_path)) is None  # no loop of the test around it
