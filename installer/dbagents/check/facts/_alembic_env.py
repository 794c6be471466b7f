"""Read an Alembic env.py into plain facts (timeouts, autocommit, transaction_per_migration); the timeout
readers are shared with revision scripts."""

from __future__ import annotations

import ast
import re

from dbagents.check.facts._alembic_model import EnvScript
from dbagents.check.walk import of_type, walk

TIMEOUT_WORDS = ("lock_timeout", "statement_timeout")


def _timeout_line(tree: ast.Module) -> int:
    for node in of_type(tree, ast.Constant):
        if isinstance(node.value, str):
            low = node.value.lower()
            if any(word in low for word in TIMEOUT_WORDS):
                return getattr(node, "lineno", 1)
    return 0


LOCAL_SETTING = re.compile(r"\bset\s+local\b|set_config\s*\([^)]*,\s*true\s*\)", re.I)


def _timeout_is_local(tree: ast.Module) -> bool:
    """True when every string that sets a timeout does it transaction-locally (SET LOCAL, set_config(..., true))."""
    found = [node.value for node in of_type(tree, ast.Constant) if isinstance(node.value, str)
             and any(word in node.value.lower() for word in TIMEOUT_WORDS)]
    return bool(found) and all(LOCAL_SETTING.search(text) for text in found)


def extract_env(tree: ast.Module, text: str, relpath: str) -> EnvScript | None:
    """Facts of an env.py (any module calling context.configure + run_migrations)."""
    if "run_migrations" not in text or "configure" not in text:
        return None
    env = EnvScript(relpath)
    for node in walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "configure":
            env.configure_line = env.configure_line or node.lineno
            for kw in node.keywords:
                if kw.arg == "transaction_per_migration" and isinstance(kw.value, ast.Constant):
                    env.transaction_per_migration = bool(kw.value.value)
                if kw.arg == "transactional_ddl" and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                    env.autocommit = True  # no transaction around migrations at all
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.upper() == "AUTOCOMMIT":
                env.autocommit = True
    if env.configure_line == 0:
        return None
    env.timeout_line = _timeout_line(tree)
    env.timeout_local = _timeout_is_local(tree)
    return env
