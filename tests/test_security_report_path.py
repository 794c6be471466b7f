"""The N+1 plugin's report path: a relative one (for instance from a repository's `addopts`) stays inside the
rootdir; an absolute one is the user's explicit choice and is honoured."""

from __future__ import annotations

import json

import pytest

from test_nplusone_support import INSTALLER

pytest_plugins = ["pytester"]

TESTS = '''
def test_nothing():
    pass
'''


@pytest.fixture
def project(pytester, monkeypatch):
    (pytester.path / "proj").mkdir()
    monkeypatch.setenv("PYTHONPATH", str(INSTALLER))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


@pytest.mark.parametrize("report", ["../escaped.json", "sub/../../escaped.json", "linked/escaped.json"])
def test_a_relative_report_path_leaving_the_rootdir_is_a_usage_error(project, tmp_path_factory, monkeypatch, report):
    root = project.path / "proj"
    outside = tmp_path_factory.mktemp("outside")
    (root / "linked").symlink_to(outside, target_is_directory=True)  # a folder inside that leads out
    (root / "pyproject.toml").write_text(
        f'[tool.pytest.ini_options]\naddopts = "--dbagents-nplusone=warn --dbagents-report={report}"\n')
    (root / "test_x.py").write_text(TESTS)
    monkeypatch.chdir(root)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a relative report path must stay inside the rootdir" in result.stderr.str()
    assert not (project.path / "escaped.json").exists() and not (outside / "escaped.json").exists()


def test_relative_inside_and_absolute_anywhere_are_written(project, tmp_path_factory, monkeypatch):
    root = project.path / "proj"
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (root / "test_x.py").write_text(TESTS)
    monkeypatch.chdir(root)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--dbagents-nplusone=warn",
                                          "--dbagents-report=.dbagents_cache/nplusone-report.json")
    assert result.ret == 0, result.stderr.str()
    assert json.loads((root / ".dbagents_cache" / "nplusone-report.json").read_text())["findings"] == []
    elsewhere = tmp_path_factory.mktemp("reports") / "n1.json"
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--dbagents-nplusone=warn",
                                          f"--dbagents-report={elsewhere}")
    assert result.ret == 0, result.stderr.str()
    assert json.loads(elsewhere.read_text())["findings"] == []
