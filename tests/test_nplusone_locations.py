"""Where N+1 findings point, and what they say: the project's own line (never a library installed in
site-packages), the query that loaded the rows, the library frame that touched the attribute, each test with
its own count; JSON and SARIF reports, the terminal summary.

The project serializes ORM objects with pydantic 2, installed into a venv's site-packages.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from test_nplusone_support import line_of, run_pytest, serializer_python, sqlite_urls, write_project

SERIALIZERS = '''
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    posts: list[PostOut]
'''

SERVICE = '''
from sqlalchemy import select, text

from app.serializers import UserOut
from scn_models import User
from vendor.serialize import dump


def list_users(session, limit=None):
    query = select(User).order_by(User.id)
    if limit:
        query = query.limit(limit)
    users = session.scalars(query).all()  # LOADED
    return [UserOut.model_validate(user) for user in users]  # TOUCHED


def post_counts(session):
    users = session.scalars(select(User)).all()
    return dump(users, "posts")  # VENDOR


def name_of(session, user_id):
    return session.execute(text("SELECT name FROM users WHERE id = :id"), {"id": user_id}).scalar()  # NAME


def names_of(session, ids):
    return [name_of(session, user_id) for user_id in ids]  # LOOP
'''

VENDOR = '''
def dump(objects, attribute):
    """A helper the project keeps in its tree but declares not its own (dbagents_nplusone_library_paths)."""
    return [len(getattr(obj, attribute)) for obj in objects]  # DUMP
'''

TESTS = '''
from app.service import list_users, name_of, names_of, post_counts


def test_list_all(session):
    assert len(list_users(session)) == 3  # CALL_ALL


def test_list_two(session):
    assert len(list_users(session, limit=2)) == 2


def test_vendor(session):
    assert post_counts(session) == [2, 2, 2]


def test_two_lines(session):
    assert name_of(session, 1) == name_of(session, 1)


def test_loop(session):
    assert len(names_of(session, [1, 2, 3, 1, 2, 3])) == 6  # TEST_LOOP
'''

INI = "dbagents_nplusone_library_paths =\n    vendor\n"

pytestmark = pytest.mark.slow  # installs pydantic into a cached venv on first use


def _project(root) -> None:
    write_project(root, {"app/__init__.py": "", "app/serializers.py": SERIALIZERS, "app/service.py": SERVICE,
                         "vendor/__init__.py": "", "vendor/serialize.py": VENDOR, "tests/__init__.py": "",
                         "tests/test_app.py": TESTS}, INI)


@pytest.fixture(scope="module")
def python() -> str:
    return serializer_python()


@pytest.fixture(scope="module")
def json_run(python, tmp_path_factory):
    root = tmp_path_factory.mktemp("n1-locations")
    (root / "app").mkdir()
    (root / "vendor").mkdir()
    (root / "tests").mkdir()
    _project(root)
    old = os.umask(0o022)
    try:
        done = run_pytest(python, root, "--dbagents-nplusone=fail", "--dbagents-report=out/report.json",
                          **sqlite_urls(root))
    finally:
        os.umask(old)
    path = root / "out" / "report.json"
    assert path.exists(), done.stdout + done.stderr
    return done, json.loads(path.read_text()), path


def _finding(report, rule, path, line):
    [finding] = [f for f in report["findings"] if (f["rule"], f["path"], f["line"]) == (rule, path, line)]
    return finding


def test_a_lazy_load_inside_pydantic_is_reported_at_the_project_line(json_run, python):
    done, report, _path = json_run
    assert all(not f["path"].startswith("/") and "site-packages" not in f["path"] for f in report["findings"])
    finding = _finding(report, "DBA401", "app/service.py", line_of(SERVICE, "TOUCHED"))
    assert finding["line"] == line_of(SERVICE, "TOUCHED") and finding["object"] == "User.posts"
    assert finding["touched_in"]["path"] == "pydantic/main.py" and finding["touched_in"]["line"] > 0
    assert finding["loaded_by"]["path"] == "app/service.py"
    assert finding["loaded_by"]["line"] == line_of(SERVICE, "LOADED")
    assert finding["loaded_by"]["statement"].startswith("SELECT users.id, users.name FROM users ORDER BY users.id")
    assert finding["stack"][0] == {"path": "app/service.py", "line": line_of(SERVICE, "TOUCHED")}
    assert {"path": "tests/test_app.py", "line": line_of(TESTS, "CALL_ALL")} in finding["stack"]
    # the library really is installed in a venv's site-packages (not a copy in the project)
    import subprocess

    where = subprocess.run([python, "-c", "import pydantic; print(pydantic.__file__)"], capture_output=True,
                           text=True, check=True).stdout
    assert "/site-packages/pydantic/" in where
    # the failure text names all three places, relative to the rootdir
    touched = finding["touched_in"]["line"]
    assert (f"loaded by SELECT users.id, users.name FROM users ORDER BY users.id at app/service.py:"
            f"{line_of(SERVICE, 'LOADED')}, touched in pydantic/main.py:{touched} called from app/service.py:"
            f"{line_of(SERVICE, 'TOUCHED')}") in done.stdout


def test_each_test_is_named_with_its_own_count(json_run):
    _done, report, _path = json_run
    finding = _finding(report, "DBA401", "app/service.py", line_of(SERVICE, "TOUCHED"))
    assert finding["tests"] == [{"test": "tests/test_app.py::test_list_all", "count": 3},
                                {"test": "tests/test_app.py::test_list_two", "count": 2}]
    assert ("(in 2 tests: tests/test_app.py::test_list_all (3), tests/test_app.py::test_list_two (2))"
            in finding["message"])


def test_declared_library_paths_are_not_the_project(json_run):
    _done, report, _path = json_run
    finding = next(f for f in report["findings"] if f["rule"] == "DBA401" and f["line"] == line_of(SERVICE, "VENDOR"))
    assert finding["path"] == "app/service.py"
    assert finding["touched_in"] == {"path": "vendor/serialize.py", "line": line_of(VENDOR, "DUMP")}
    assert not [f for f in report["findings"] if f["path"].startswith("vendor/")]


def test_a_loop_is_dba402_separate_lines_are_not(json_run):
    done, report, _path = json_run
    assert "1 passed" in done.stdout and "4 failed" in done.stdout, done.stdout[-3000:]
    assert "FAILED tests/test_app.py::test_two_lines" not in done.stdout  # threshold 5 is not met anyway
    [loop] = [f for f in report["findings"] if f["rule"] == "DBA402"]
    assert (loop["path"], loop["line"]) == ("app/service.py", line_of(SERVICE, "NAME"))
    assert loop["statement"] == "SELECT name FROM users WHERE id = ?"
    assert loop["tests"] == [{"test": "tests/test_app.py::test_loop", "count": 6}]
    assert loop["stack"][-1] == {"path": "tests/test_app.py", "line": line_of(TESTS, "TEST_LOOP")}
    assert "SELECT" not in loop["message"]  # the SQL has its own field


def test_report_fields_mode_and_rules(json_run):
    _done, report, path = json_run
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert report["summary"]["by_rule"] == {"DBA401": 2, "DBA402": 1}
    for finding in report["findings"]:
        assert "column" not in finding
        assert finding["tests"] and finding["stack"]
    for rule in report["rules"].values():
        assert rule["help_uri"].startswith("https://")


def test_terminal_summary_groups_rules_with_totals(json_run):
    done, _report, _path = json_run
    table = done.stdout.split("dbagents N+1 summary (mode fail)", 1)[1].split("report written to", 1)[0]
    assert table.index("DBA401 N+1 lazy loads: 2 finding(s) in 3 test(s)") < table.index(
        "DBA402 statements repeated from one call site: 1 finding(s) in 1 test(s)")
    assert "total: DBA401 2, DBA402 1" in table
    assert "site-packages" not in table and " /" not in table  # relative paths everywhere


def test_sarif_related_locations_relative_to_the_repository(python, tmp_path):
    repository = tmp_path / "repo"
    root = repository / "backend"  # the pytest rootdir is one folder below the repository root
    for folder in ("app", "vendor", "tests"):
        (root / folder).mkdir(parents=True)
    (repository / ".git").mkdir()
    _project(root)
    done = run_pytest(python, root, "--dbagents-nplusone=warn", "--dbagents-report=n1.sarif", **sqlite_urls(root))
    sarif = json.loads((root / "n1.sarif").read_text())
    run = sarif["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repository.resolve().as_uri() + "/"
    [result] = [r for r in run["results"] if r["ruleId"] == "DBA401"
                and r["locations"][0]["physicalLocation"]["region"]["startLine"] == line_of(SERVICE, "TOUCHED")]
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "backend/app/service.py", "uriBaseId": "%SRCROOT%"}
    assert "startColumn" not in physical["region"]
    loaded, touched, *callers = result["relatedLocations"]
    assert loaded["physicalLocation"]["artifactLocation"] == {"uri": "backend/app/service.py",
                                                              "uriBaseId": "%SRCROOT%"}
    assert loaded["physicalLocation"]["region"]["startLine"] == line_of(SERVICE, "LOADED")
    assert loaded["message"]["text"].startswith("loaded by SELECT users.id")
    uri = touched["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file:///") and uri.endswith("/site-packages/pydantic/main.py")
    assert callers[-1]["physicalLocation"]["artifactLocation"]["uri"] == "backend/tests/test_app.py"
    assert [r["id"] for r in result["relatedLocations"]] == list(range(1, len(result["relatedLocations"]) + 1))
    assert result["properties"]["tests"] == [{"test": "tests/test_app.py::test_list_all", "count": 3},
                                             {"test": "tests/test_app.py::test_list_two", "count": 2}]
    assert "passed" in done.stdout
