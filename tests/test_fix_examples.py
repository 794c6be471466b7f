"""Tests generated from the fixable rules' own invalid examples (Fixit style): invalid -> `fixed` exactly, the
fixed code yields no finding of the rule and no new finding of any rule, a second run changes nothing, and
--diff shows exactly what --fix writes."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.check.fix import run_fixes
from dbagents.check.fix.write import unified_diff, write_files
from dbagents.check.registry import selected_ids, static_rules
from dbagents.check.rule import FIX_AVAILABILITY
from dbagents.config import Config

FIXABLE = {rid: cls for rid, cls in static_rules().items() if cls.fixable}
CASES = [
    pytest.param(cls, i, ex, id=f"{rid}-invalid-{i}")
    for rid, cls in FIXABLE.items()
    for i, ex in enumerate(cls.invalid)
]


def _write(tmp_path: Path, example) -> None:
    for rel, text in {example.path: example.code, **example.files}.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _check(tmp_path: Path, enabled: set[str]):
    return check_tree([tmp_path], root=tmp_path, config=Config(), enabled=enabled, jobs=1, use_cache=False)


def _fix(tmp_path: Path, rule_id: str, unsafe: bool):
    outcome = _check(tmp_path, {rule_id})
    return run_fixes(outcome, outcome.findings, enabled={rule_id}, unsafe=unsafe)


def _keys(findings) -> Counter:
    return Counter((f.path, f.rule_id, f.message) for f in findings)


@pytest.mark.parametrize("cls,index,example", CASES)
def test_fix_example(tmp_path, monkeypatch, cls, index, example):
    original = tmp_path / "original"
    _write(original, example)
    tmp_path = tmp_path / "project"
    _write(tmp_path, example)
    monkeypatch.chdir(tmp_path)
    everything = selected_ids([], [], []) | {cls.id}
    before = _check(tmp_path, everything).findings
    run = _fix(tmp_path, cls.id, unsafe=cls.fixable == "unsafe")
    assert not [n for n in run.notes if "fix not applied" in n], run.notes
    diff = unified_diff(run)
    write_files(run)
    text = (tmp_path / example.path).read_text(encoding="utf-8")
    if example.fixed is None:
        assert text == example.code and not run.files, f"{cls.id} changed an example it declares unfixed:\n{text}"
        return
    assert text == example.fixed, f"{cls.id} fixed example #{index} differently:\n{text}"
    compile(text, example.path, "exec")
    after = _check(tmp_path, everything).findings
    assert not [f for f in after if f.rule_id == cls.id and f.path == example.path], after
    added = _keys(after) - _keys(before)
    assert not added, f"the fix added findings: {added}"
    again = _fix(tmp_path, cls.id, unsafe=cls.fixable == "unsafe")
    assert not again.files, "a second --fix changed the file again"
    # --diff shows exactly what --fix wrote: the diff applied to the original gives the written files
    subprocess.run(["git", "apply", "-p0", "-"], input=diff, text=True, cwd=original, check=True)
    for rel in {example.path, *example.files}:
        assert (original / rel).read_text(encoding="utf-8") == (tmp_path / rel).read_text(encoding="utf-8")


@pytest.mark.parametrize("rid", list(FIXABLE))
def test_fixable_rule_declares_its_fix(rid):
    cls = FIXABLE[rid]
    assert cls.fixable in FIX_AVAILABILITY
    assert any(ex.fixed is not None for ex in cls.invalid), f"{rid} can fix but no invalid example shows the fix"
    assert "Automatic fix:" in cls.info().help


def test_unsafe_fixes_wait_for_the_flag(tmp_path):
    for cls in FIXABLE.values():
        if cls.fixable != "unsafe":
            continue
        example = next(ex for ex in cls.invalid if ex.fixed is not None)
        folder = tmp_path / cls.id
        _write(folder, example)
        run = _fix(folder, cls.id, unsafe=False)
        assert not run.files and run.unsafe_left, cls.id
