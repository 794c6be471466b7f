"""Shared by the model truth tests: write a small project and check it through the engine."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dbagents.check.engine import check_tree
from dbagents.config import Config


def check_project(root: Path, files: dict[str, str], rules: set[str]):
    """Findings of `rules` on the files (dedented), sorted by place."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    out = check_tree([root], root=root, config=Config(), enabled=rules, jobs=1, use_cache=False)
    return sorted(out.findings, key=lambda f: (f.path, f.line))
