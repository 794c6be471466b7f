"""The one dotted-name helper every extractor and rule uses."""

from __future__ import annotations

import ast

import pytest

from dbagents.check.names import dotted


@pytest.mark.parametrize("source,with_calls,without_calls", [
    ("sa.orm.Session", "sa.orm.Session", "sa.orm.Session"),
    ("op.get_bind().execute", "op.get_bind().execute", None),
    ("factory()", "factory()", None),
    ("rows[0].user", None, None),
    ("(a or b).c", None, None),
])
def test_dotted(source, with_calls, without_calls):
    node = ast.parse(source, mode="eval").body
    assert dotted(node) == with_calls
    assert dotted(node, calls=False) == without_calls
    assert dotted(None) is None
