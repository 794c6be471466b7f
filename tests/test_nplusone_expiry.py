"""DBA401 when the cause is expiry: rows loaded with an eager option, expired (commit(), expire(),
refresh()) and then touched one by one reload the relationship per object; the hint must say so."""

from __future__ import annotations

import json
import sys

import pytest

from test_nplusone_support import line_of, run_pytest, sqlite_urls, write_project

TESTS = '''
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scn_models import User


def eager_users(session):
    return session.scalars(select(User).options(selectinload(User.posts))).all()  # LOADED


def test_commit_expires(session):
    users = eager_users(session)
    session.commit()
    assert [len(user.posts) for user in users] == [2, 2, 2]  # COMMIT


def test_expire_all(session):
    users = eager_users(session)
    session.expire_all()
    assert [len(user.posts) for user in users] == [2, 2, 2]  # EXPIRE


def test_refresh(session):
    users = eager_users(session)
    for user in users:
        session.refresh(user)  # REFRESH (reloads what was eager-loaded, one user at a time)
    assert [len(user.posts) for user in users] == [2, 2, 2]


def test_expire_on_commit_false_is_clean(engine):
    with Session(engine, expire_on_commit=False) as session:
        users = eager_users(session)
        session.commit()
        assert [len(user.posts) for user in users] == [2, 2, 2]


def test_populate_existing_after_commit_is_clean(session):
    eager_users(session)
    session.commit()
    users = session.scalars(
        select(User).options(selectinload(User.posts)).execution_options(populate_existing=True)).all()
    assert [len(user.posts) for user in users] == [2, 2, 2]


def test_never_eager_is_a_plain_n_plus_one(session):
    users = session.scalars(select(User)).all()
    session.commit()
    assert [len(user.posts) for user in users] == [2, 2, 2]  # PLAIN
'''


@pytest.fixture(scope="module")
def expiry_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("n1-expiry")
    write_project(root, {"test_expiry.py": TESTS})
    done = run_pytest(sys.executable, root, "--dbagents-nplusone=warn", "--dbagents-report=report.json",
                      **sqlite_urls(root))
    assert (root / "report.json").exists(), done.stdout + done.stderr
    report = json.loads((root / "report.json").read_text())
    return done, {f["line"]: f for f in report["findings"] if f["rule"] == "DBA401"}


@pytest.mark.parametrize("marker", ["COMMIT", "EXPIRE", "REFRESH"])
def test_expired_eager_loads_get_the_expiry_hint(expiry_run, marker):
    done, findings = expiry_run
    finding = findings[line_of(TESTS, marker)]
    assert finding["expired"] is True, finding
    assert "each reloaded after it was expired" in finding["message"]
    assert "expire_on_commit=False" in finding["hint"] and "populate_existing=True" in finding["hint"]
    assert "re-query after it" in finding["hint"]
    assert "selectinload(" not in finding["hint"].split("(the query at")[0]  # not "add selectinload"
    assert finding["loaded_by"]["line"] == line_of(TESTS, "LOADED")
    assert "(the query at test_expiry.py:%d)" % line_of(TESTS, "LOADED") in finding["hint"]


def test_clean_variants_and_the_plain_case(expiry_run):
    done, findings = expiry_run
    assert set(findings) == {line_of(TESTS, m) for m in ("COMMIT", "EXPIRE", "REFRESH", "PLAIN")}, findings
    plain = findings[line_of(TESTS, "PLAIN")]
    assert plain["expired"] is False
    assert ".options(selectinload(User.posts))" in plain["hint"]
    assert "expired" not in plain["message"]
    assert "6 passed" in done.stdout, done.stdout[-3000:]
