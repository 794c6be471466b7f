"""Tests generated from every static rule's own valid and invalid examples (Fixit style)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.check.registry import static_rules
from dbagents.check.rule import DOC_SECTIONS
from dbagents.config import Config

CASES = [
    pytest.param(cls, kind, i, ex, id=f"{rid}-{kind}-{i}")
    for rid, cls in static_rules().items()
    for kind, examples in (("valid", cls.valid), ("invalid", cls.invalid))
    for i, ex in enumerate(examples)
]


def run_example(tmp_path: Path, rule_id: str, example) -> list:
    for rel, text in {example.path: example.code, **example.files}.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={rule_id}, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id == rule_id]


@pytest.mark.parametrize("cls,kind,index,example", CASES)
def test_rule_example(tmp_path, cls, kind, index, example):
    found = run_example(tmp_path, cls.id, example)
    if kind == "valid":
        assert found == [], f"{cls.id} reported on a valid example: {found}"
    else:
        assert found, f"{cls.id} missed its invalid example #{index}:\n{example.code}"
        if example.lines is not None:
            got = sorted({f.line for f in found if f.path == example.path})
            assert got == sorted(example.lines), f"{cls.id}: expected lines {example.lines}, got {got}"


@pytest.mark.parametrize("rid", list(static_rules()))
def test_rule_metadata(rid):
    cls = static_rules()[rid]
    assert rid.startswith("DBA") and len(rid) == 6
    assert cls.name == cls.name.lower() and " " not in cls.name and "_" not in cls.name
    assert cls.groups and cls.summary and cls.hint
    for section in DOC_SECTIONS:
        assert section in cls.doc, f"{rid} doc lacks {section!r}"
    assert cls.valid and cls.invalid, f"{rid} needs valid and invalid examples"
