"""End-to-end: one realistic test suite run under the plugin on SQLAlchemy 2.1 and 2.0, SQLite and PostgreSQL.

Every `# EXPECT` comment in SCENARIOS must produce exactly that finding at exactly that line, and no
other line may produce one: eager loading, singletons, fixtures and allowed blocks are the negatives.
"""

from __future__ import annotations

import json
import sys

import pytest

from test_nplusone_support import (
    expected_markers,
    postgres_urls,
    run_pytest,
    sa20_python,
    sqlite_urls,
    write_project,
)

pytestmark = pytest.mark.slow

SCENARIOS = '''
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import immediateload, joinedload, raiseload, selectinload

import scn_app
from conftest import run_async
from dbagents.pytest_plugin import allow_nplusone
from scn_models import Comment, Post, User


@pytest.fixture
def warmed(session):
    """Runs (so compiles and caches) the first test's own query before the test body."""
    session.scalars(select(User).where(User.name != "")).all()
    session.expunge_all()
    return session


def test_query_first_compiled_in_a_fixture(warmed):
    for user in warmed.scalars(select(User).where(User.name != "")):
        user.posts  # EXPECT DBA401 User.posts


def test_select_n1(session):
    for user in session.scalars(select(User)):
        user.posts  # EXPECT DBA401 User.posts


def test_from_statement_n1(session):
    for user in session.scalars(select(User).from_statement(text("SELECT * FROM users ORDER BY id"))):
        user.posts  # EXPECT DBA401 User.posts


def test_insert_returning_n1(session):
    rows = [{"id": 90 + n, "name": f"new{n}"} for n in range(3)]
    for user in session.scalars(insert(User).returning(User), rows).all():
        user.posts  # EXPECT DBA401 User.posts


def test_legacy_query_many_to_one(session):
    for post in session.query(Post).all():
        post.user  # EXPECT DBA401 Post.user


def test_nested_collection_n1(session):
    user = session.scalars(select(User).where(User.id == 1).options(selectinload(User.posts))).one()
    for post in user.posts:
        post.comments  # EXPECT DBA401 Post.comments


def test_lazy_chain_n1(session):
    for user in session.scalars(select(User).order_by(User.id)):
        for post in user.posts:  # EXPECT DBA401 User.posts
            post.comments  # EXPECT DBA401 Post.comments


@pytest.fixture
def fixture_user(session):
    return session.get(User, 1)


def test_children_of_a_fixture_object(fixture_user):
    for post in fixture_user.posts:  # loaded before the test: its own lazy load is not an N+1
        post.comments  # EXPECT DBA401 Post.comments


def test_selectinload_is_clean(session):
    for user in session.scalars(select(User).options(selectinload(User.posts))):
        user.posts


def test_joinedload_is_clean(session):
    for post in session.scalars(select(Post).options(joinedload(Post.user))):
        post.user


def test_immediateload_is_an_n1(session):
    session.scalars(select(User).options(immediateload(User.posts))).all()  # EXPECT DBA401 User.posts


def test_raiseload_is_clean(session):
    for user in session.scalars(select(User).options(raiseload("*"))):
        with pytest.raises(InvalidRequestError):
            user.posts


def test_singletons_are_not_counted(session):
    for user_id in (1, 2):
        session.get(User, user_id).posts
    session.scalars(select(User).where(User.id == 3)).one().posts


def test_fixture_lazy_loads_are_not_counted(lazy_fixture):
    assert lazy_fixture.get(User, 1).name == "user1"


def test_allow_block(session):
    with allow_nplusone():
        for user in session.scalars(select(User)):
            user.posts


def test_allowlisted_attribute(session):
    for comment in session.scalars(select(Comment)):
        comment.post


def test_raw_sql_repeated(session):
    scn_app.names_by_literal(session, range(1, 7))


def test_in_lists_fold(session):
    scn_app.users_in_growing_lists(session, 6)


def test_a_loop_in_the_test_itself_is_the_tests_repetition(session):
    for user_id in range(1, 7):
        session.execute(text(f"SELECT name FROM users WHERE id = {user_id}"))


def test_below_threshold(session):
    for user_id in range(1, 4):
        session.execute(text("SELECT name FROM users WHERE id = :id"), {"id": user_id})


@pytest.mark.dbagents_max_queries(2)
def test_budget_kept(session):
    session.scalars(select(User).options(selectinload(User.posts))).all()


@pytest.mark.dbagents_max_queries(1)  # EXPECT DBA403
def test_budget_exceeded(session):
    session.scalars(select(User)).all()
    session.scalars(select(Post)).all()


def test_async_lazy_load_missing_greenlet():
    async def body(session):
        user = (await session.scalars(select(User).where(User.id == 1))).one()
        with pytest.raises(Exception, match="greenlet"):
            user.posts  # EXPECT DBA404 User.posts

    run_async(body)


def test_async_awaitable_attrs_n1():
    async def body(session):
        for user in (await session.scalars(select(User))).all():
            await user.awaitable_attrs.posts  # EXPECT DBA401 User.posts

    run_async(body)


def test_async_selectinload_is_clean():
    async def body(session):
        for user in (await session.scalars(select(User).options(selectinload(User.posts)))).all():
            user.posts

    run_async(body)
'''

# The application's code: DBA402 is about its loops.
SCN_APP = '''
from sqlalchemy import select, text

from scn_models import User


def names_by_literal(session, ids):
    for user_id in ids:
        session.execute(text(f"SELECT name FROM users WHERE id = {user_id}"))  # EXPECT DBA402


def users_in_growing_lists(session, count):
    return [session.scalars(select(User).where(User.id.in_(list(range(size))))).all()  # EXPECT DBA402
            for size in range(1, count + 1)]
'''

INI = "dbagents_nplusone = warn\ndbagents_nplusone_allow =\n    Comment.*\n"
N_TESTS = SCENARIOS.count("\ndef test_")


def _sa_python(version: str) -> str:
    return sys.executable if version == "2.1" else sa20_python()


@pytest.fixture(scope="module", params=["2.1", "2.0"])
def sa_version(request) -> str:
    return request.param


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scenario_run(request, sa_version, tmp_path_factory):
    """Run SCENARIOS once per (SQLAlchemy version, database); yield (process, report, project)."""
    root = tmp_path_factory.mktemp(f"scn-{sa_version}-{request.param}")
    write_project(root, {"test_scenarios.py": SCENARIOS, "scn_app.py": SCN_APP}, INI)
    if request.param == "sqlite":
        urls = sqlite_urls(root)
    else:
        urls = postgres_urls(request.getfixturevalue("pg_server").createdb("nplusone"))
    python = _sa_python(sa_version)
    done = run_pytest(python, root, "-q", "-rA", "--dbagents-report=report.json", **urls)
    assert (root / "report.json").exists(), done.stdout + done.stderr
    report = json.loads((root / "report.json").read_text())
    return done, report, root, python


def _line(text: str) -> int:
    """Line number (1-based) in SCENARIOS of the first line that starts with `text`."""
    return next(n for n, line in enumerate(SCENARIOS.splitlines(), 1) if line.startswith(text))


def test_sqlalchemy_version_is_the_one_asked_for(scenario_run, sa_version):
    done, _report, root, python = scenario_run
    import subprocess

    version = subprocess.run([python, "-c", "import sqlalchemy; print(sqlalchemy.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith(sa_version + "."), version


def test_every_expected_finding_and_nothing_else(scenario_run):
    done, report, _root, _python = scenario_run
    got = {
        (f["rule"], f["line"], f.get("object", ""))
        for f in report["findings"]
        if f["path"] == "test_scenarios.py"
    }
    assert got == expected_markers(SCENARIOS), done.stdout[-4000:] + done.stderr[-2000:]
    in_app = {(f["rule"], f["line"], f.get("object", "")) for f in report["findings"] if f["path"] == "scn_app.py"}
    assert in_app == expected_markers(SCN_APP), report["findings"]
    assert {f["path"] for f in report["findings"]} == {"test_scenarios.py", "scn_app.py"}, report["findings"]
    for finding in report["findings"]:
        if finding["rule"] == "DBA402":  # the loop around the statement is named
            assert finding["loops"][0]["path"] == "scn_app.py" and finding["loops"][0]["line"] <= finding["line"]


def test_only_the_budget_test_fails_in_warn_mode(scenario_run):
    done, _report, _root, _python = scenario_run
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"1 failed, {N_TESTS - 1} passed" in done.stdout, done.stdout[-3000:]
    assert "FAILED test_scenarios.py::test_budget_exceeded" in done.stdout


def test_counts_and_budget_listing(scenario_run):
    done, report, _root, _python = scenario_run
    messages = {(f["object"], f["line"]): f["message"] for f in report["findings"] if f["rule"] == "DBA401"}
    assert "for 3 instances of one query result" in messages[("User.posts", _line("    for user in session.scalars(select(User)):") + 1)]
    assert "for 2 instances" in messages[("Post.comments", _line("        post.comments  # EXPECT"))]
    # Posts reached through lazy loads of one result's users are members of that result: 3 users x 2.
    assert "for 6 instances" in messages[("Post.comments", _line("            post.comments  # EXPECT"))]
    # many-to-one: six posts of three users -> three loads (the identity map answers the rest)
    assert "Post.user lazy-loaded for 3 instances" in messages[("Post.user", _line("        post.user  # EXPECT"))]
    budget = next(f for f in report["findings"] if f["rule"] == "DBA403")
    assert budget["severity"] == "error" and "2 SQL statements, budget is 1" in budget["message"]
    # the failure lists the statements, normalized
    assert "DBA403 2 SQL statements, budget is 1" in done.stdout
    assert "1. SELECT users.id, users.name" in done.stdout and "2. SELECT posts.id" in done.stdout


def test_terminal_summary_table(scenario_run):
    done, report, _root, _python = scenario_run
    assert "dbagents N+1 summary (mode warn)" in done.stdout
    table = done.stdout.split("dbagents N+1 summary (mode warn)", 1)[1]
    for finding in report["findings"]:
        assert f"{finding['path']}:{finding['line']}" in table
    assert report["mode"] == "warn" and report["source"] == "pytest"
