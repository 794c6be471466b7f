"""Frontmatter reading: Claude Code's repair, broken YAML, BOM, size limit, alias bombs, YAML 1.2 scalars."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dbagents.validate import validate_paths
from dbagents.validate import frontmatter as fm


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write(tmp_path: Path, text, kind="agents", name="a.md") -> Path:
    path = tmp_path / ".claude" / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return tmp_path / ".claude"


@pytest.mark.parametrize(
    "line, fix",
    [
        ("description: Use when: the user asks", 'description: "Use when: the user asks"'),
        ("tools: *", 'tools: "*"'),
        ("description: @mentions handler", 'description: "@mentions handler"'),
    ],
)
def test_repaired_yaml_is_a_warning_naming_line_and_fix(tmp_path, line, fix):
    root = write(tmp_path, f"---\nname: a\ndescription: d\n{line}\n---\nBody.\n".replace("description: d\ndescription", "description"))
    findings = validate_paths([root])
    repaired = [f for f in findings if f.rule_id == "CC004"]
    assert repaired and repaired[0].severity.label == "warning"
    assert repaired[0].line in (3, 4)
    assert repaired[0].hint == f"quote it: {fix}"
    assert not [f for f in findings if f.severity.label == "error"]


def test_argument_hint_repair(tmp_path):
    root = write(tmp_path, "---\ndescription: d\nargument-hint: [a] [b]\n---\n$ARGUMENTS\n", kind="commands")
    (finding,) = validate_paths([root])
    assert (finding.rule_id, finding.line, finding.hint) == ("CC004", 3, 'quote it: argument-hint: "[a] [b]"')


def test_tab_indent_repair(tmp_path):
    root = write(tmp_path, "---\nname: a\ndescription: d\nhooks:\n\tStop: []\n---\nBody.\n")
    findings = validate_paths([root])
    assert [(f.rule_id, f.line) for f in findings] == [("CC004", 5)]


def test_repair_keeps_flow_lists(tmp_path):
    text, changed = fm.repair_yaml("tools: [Read, Grep]\ndescription: a: b")
    assert changed == [(2, "description: a: b", 'description: "a: b"')]
    assert fm.load_yaml(text) == {"tools": ["Read", "Grep"], "description": "a: b"}


def test_broken_beyond_repair_gives_line_and_column(tmp_path):
    root = write(tmp_path, "---\nname: a\ndescription: d\n  bad: [x\n---\nBody.\n")
    (finding,) = validate_paths([root])
    assert finding.rule_id == "CC005" and finding.severity.label == "error"
    assert finding.line >= 4 and finding.col > 0
    assert "all fields would be dropped" in finding.message
    assert f"{finding.line}:{finding.col}" in finding.message


def test_block_scalar_broken_by_repair(tmp_path):
    # Strict YAML fails elsewhere, so the repair also quotes `|` and breaks the block: the runtime gets nothing.
    root = write(tmp_path, "---\nname: a\ndescription: |\n  long text\nnote: x: y\n  other: [z\n---\nBody.\n")
    assert {f.rule_id for f in validate_paths([root])} == {"CC005"}


def test_bom_hides_frontmatter_for_commands_too(tmp_path):
    root = write(tmp_path, b"\xef\xbb\xbf---\ndescription: d\nallowed-tools: Read\n---\nBody.\n", kind="commands")
    assert [f.rule_id for f in validate_paths([root])] == ["CC002"]


def test_command_without_frontmatter_is_fine(tmp_path):
    root = write(tmp_path, "Just a prompt with $ARGUMENTS.\n", kind="commands")
    assert validate_paths([root]) == []


def test_unclosed_frontmatter(tmp_path):
    root = write(tmp_path, "---\nname: a\ndescription: d\nBody without closing.\n")
    (finding,) = validate_paths([root])
    assert finding.rule_id == "CC001" and "never closed" in finding.message


def test_size_limit_is_quick(tmp_path):
    root = write(tmp_path, "---\nname: a\ndescription: d\n---\n" + "y" * (3 * 1024 * 1024))
    start = time.perf_counter()
    findings = validate_paths([root])
    assert time.perf_counter() - start < 1.0
    assert [f.rule_id for f in findings] == ["CC007"]


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    root = write(tmp_path, "---\nname: a\ndescription: d\n" + "\n".join(lines) + "\n---\nBody.\n")
    start = time.perf_counter()
    findings = validate_paths([root])
    assert time.perf_counter() - start < 1.0
    assert [f.rule_id for f in findings] == ["CC008"]


def test_small_aliases_are_fine():
    assert fm.load_yaml("a: &x [1, 2]\nb: *x") == {"a": [1, 2], "b": [1, 2]}


def test_yaml_12_scalars():
    data = fm.load_yaml("a: yes\nb: 2024-01-01\nc: 0o17\nd: 017\ne: true\nf: ~\ng: 1.5\nh: on")
    assert data == {"a": "yes", "b": "2024-01-01", "c": 15, "d": 17, "e": True, "f": None, "g": 1.5, "h": "on"}


def test_safe_loader_refuses_python_tags(tmp_path):
    marker = tmp_path / "pwned"
    root = write(tmp_path, f"---\nname: !!python/object/apply:os.system ['touch {marker}']\ndescription: d\n---\nB\n")
    with pytest.raises(fm.YamlProblem):
        fm.load_yaml(f"x: !!python/object/apply:os.system ['touch {marker}']")
    findings = validate_paths([root])
    # like Claude Code, the repair quotes the tagged value, so it loads as a plain string
    assert {f.rule_id for f in findings} == {"CC004", "CC012"}
    assert not marker.exists()


def test_yes_is_not_a_boolean_for_claude_code(tmp_path):
    root = write(tmp_path, "---\ndescription: d\ndisable-model-invocation: yes\n---\nB\n", kind="commands")
    assert [f.rule_id for f in validate_paths([root])] == ["CC015"]


def test_dashes_inside_a_value_end_the_frontmatter(tmp_path):
    root = write(tmp_path, "---\nname: a\ndescription: before---after\ntools: Read\n---\nBody.\n")
    assert "CC017" in {f.rule_id for f in validate_paths([root])}


def test_garbage_never_crashes(tmp_path):
    samples = [
        b"\x00\x01\x02---\n",
        b"---\n: : :\n---\n",
        b"---\n[1, 2\n---\n",
        b"---\n? [a, b]\n: c\n---\n",
        b"---\nname: [a, b]\ndescription: {x: 1}\ntools: 5\nmaxTurns: true\nhooks: [1]\n---\n",
        b"---\nname: a\ndescription: d\ntools: [Read, 3, null]\nmcpServers: {a: 1}\n---\n",
        b"\xff\xfe" + "---\nname: a\n---\n".encode("utf-16-le"),
        b"---\nname: a\ndescription: d\n" + b"x: " + b"[" * 300 + b"]" * 300 + b"\n---\n",
    ]
    for index, raw in enumerate(samples):
        write(tmp_path, raw, name=f"g{index}.md")
    findings = validate_paths([tmp_path / ".claude"])
    assert {f.path.rsplit("/", 1)[-1] for f in findings} >= {f"g{i}.md" for i in range(len(samples) - 1)}
