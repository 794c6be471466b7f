"""Alembic facts: config discovery, several envs, %(here)s, and the revision graph (heads, merges, missing
parents, cycles, duplicates)."""

from __future__ import annotations

from pathlib import Path

from dbagents.check.engine import check_tree
from dbagents.config import Config

ENV_PY = """from alembic import context


def run_migrations_online():
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def rev(rid: str, down, body: str = "    pass\n", extra: str = "") -> str:
    return (f'from alembic import op\n\nrevision = "{rid}"\ndown_revision = {down!r}\n{extra}\n\n'
            f"def upgrade():\n{body}\n\ndef downgrade():\n    pass\n")


def build(tmp_path: Path, files: dict[str, str], enabled=frozenset()):
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled=set(enabled), jobs=1,
                         use_cache=False)
    return outcome.project.get("alembic"), outcome.findings


def test_linear_history_single_head(tmp_path):
    graph, _ = build(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "migrations/env.py": ENV_PY,
        "migrations/versions/a.py": rev("a", None),
        "migrations/versions/b.py": rev("b", "a"),
        "migrations/versions/c.py": rev("c", "b"),
    })
    assert len(graph.envs) == 1
    env = graph.envs[0]
    assert env.ini == "alembic.ini" and env.script_location == "migrations"
    assert env.versions == ["migrations/versions"] and env.env_py == "migrations/env.py"
    assert env.heads == {"c"} and env.bases == {"a"} and graph.heads == {"c"}
    assert not env.missing and not env.cycles and not env.duplicates
    assert graph.locate_revision("b") == ("migrations/versions/b.py", 3)
    assert graph.locate_revision("zzz") is None
    assert graph.revisions["b"].down_revisions == ("a",)


def test_merge_revision_joins_two_heads(tmp_path):
    graph, findings = build(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "migrations/versions/a.py": rev("a", None),
        "migrations/versions/b.py": rev("b", "a"),
        "migrations/versions/c.py": rev("c", "a"),
        "migrations/versions/m.py": rev("m", ("b", "c")),
    }, {"DBA213"})
    assert graph.heads == {"m"}
    assert graph.revisions["m"].is_merge
    assert findings == []


def test_two_heads_missing_parent_duplicate_and_cycle(tmp_path):
    graph, findings = build(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "migrations/versions/a.py": rev("a", None),
        "migrations/versions/b.py": rev("b", "a"),
        "migrations/versions/c.py": rev("c", "a"),
        "migrations/versions/d.py": rev("d", "nope"),
        "migrations/versions/d_again.py": rev("d", "a"),
        "migrations/versions/x.py": rev("x", "y"),
        "migrations/versions/y.py": rev("y", "x"),
    }, {"DBA213"})
    env = graph.envs[0]
    assert [(r.relpath, p) for r, p in env.missing] == [("migrations/versions/d.py", "nope")]
    assert list(env.duplicates) == ["d"]
    assert [sorted(c) for c in env.cycles] == [["x", "y"]]
    messages = sorted((f.path, f.line, f.message.split(",")[0]) for f in findings)
    assert ("migrations/versions/d.py", 4, "revision d revises 'nope'") in [
        (p, l, m.split(" which")[0]) for p, l, m in messages]
    assert any("also used by" in f.message for f in findings)
    assert any("cycle" in f.message for f in findings)
    # with a missing parent or a cycle, "several heads" would only repeat the same problem
    assert not any("heads" in f.message for f in findings)


def test_two_heads_reported_on_each_head(tmp_path):
    _, findings = build(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "migrations/versions/a.py": rev("a", None),
        "migrations/versions/b.py": rev("b", "a"),
        "migrations/versions/c.py": rev("c", "a"),
    }, {"DBA213"})
    assert sorted(f.path for f in findings) == ["migrations/versions/b.py", "migrations/versions/c.py"]
    assert all("one of 2 heads" in f.message for f in findings)


def test_depends_on_does_not_consume_a_head(tmp_path):
    graph, _ = build(tmp_path, {
        "migrations/versions/a.py": rev("a", None, extra='branch_labels = ("core",)'),
        "migrations/versions/b.py": rev("b", None, extra='branch_labels = ("billing",)\ndepends_on = "a"'),
    }, {"DBA213"})
    assert graph.heads == {"a", "b"}
    assert graph.revisions["b"].depends_on == ("a",)
    assert graph.revisions["a"].branch_labels == ("core",)


def test_several_envs_in_one_ini_with_here_and_version_locations(tmp_path):
    # like Netflix/dispatch: an [alembic] section with shared options, one section per env
    ini = ("[alembic]\nfile_template = %%(rev)s\n\n[core]\nscript_location = %(here)s/db/core\n\n"
           "[tenant]\nscript_location = db/tenant\nversion_locations = %(here)s/db/tenant/v1 %(here)s/db/tenant/v2\n")
    graph, findings = build(tmp_path, {
        "app/alembic.ini": ini,
        "app/db/core/env.py": ENV_PY,
        "app/db/core/versions/a.py": rev("a", None),
        "app/db/tenant/env.py": ENV_PY,
        "app/db/tenant/v1/a.py": rev("a", None),  # same id, other env: not a duplicate
        "app/db/tenant/v2/b.py": rev("b", "a"),
    }, {"DBA213"})
    names = {e.name: e for e in graph.envs}
    assert set(names) == {"app/alembic.ini[core]", "app/alembic.ini[tenant]"}
    core, tenant = names["app/alembic.ini[core]"], names["app/alembic.ini[tenant]"]
    assert core.script_location == "app/db/core" and core.versions == ["app/db/core/versions"]
    assert tenant.versions == ["app/db/tenant/v1", "app/db/tenant/v2"]
    assert core.heads == {"a"} and tenant.heads == {"b"}
    assert not core.duplicates and not tenant.duplicates and findings == []


def test_package_style_script_location_and_flask_migrate_layout(tmp_path):
    graph, _ = build(tmp_path, {
        "src/shop/alembic.ini": "[alembic]\nscript_location = shop:db/migrations\n",
        "src/shop/db/migrations/env.py": ENV_PY,
        "src/shop/db/migrations/versions/a.py": rev("a", None),
        # Flask-Migrate: alembic.ini inside the script folder, no script_location
        "other/migrations/alembic.ini": "[alembic]\n\n[loggers]\nkeys = root\n",
        "other/migrations/env.py": ENV_PY,
        "other/migrations/versions/z.py": rev("z", None),
    })
    by_script = {e.script_location: e for e in graph.envs}
    assert set(by_script) == {"src/shop/db/migrations", "other/migrations"}
    assert by_script["src/shop/db/migrations"].ini == "src/shop/alembic.ini"
    assert set(by_script["other/migrations"].revisions) == {"z"}


def test_revisions_without_config_and_dialect_subfolders(tmp_path):
    graph, findings = build(tmp_path, {
        "app/migrations/env.py": ENV_PY,
        "app/migrations/versions/postgresql/a.py": rev("a", None),
        "app/migrations/versions/postgresql/b.py": rev("b", "a"),
        "app/migrations/versions/sqlite/a.py": rev("a", None),
        "app/migrations/versions/sqlite/c.py": rev("c", "a"),
        "plugin/migrations/x.py": rev("x", None),
    }, {"DBA213"})
    by_name = {e.name: e for e in graph.envs}
    assert by_name["app/migrations/versions/postgresql"].dialect == "postgresql"
    assert by_name["app/migrations/versions/sqlite"].dialect == "sqlite"
    assert by_name["app/migrations/versions/postgresql"].env_py == "app/migrations/env.py"
    assert by_name["plugin/migrations"].heads == {"x"}
    assert findings == []  # each folder is its own history: no duplicate "a", one head each


def test_non_revision_modules_are_ignored(tmp_path):
    graph, _ = build(tmp_path, {
        "app/config.py": 'revision = "1.2"\ndown_revision = None\n',  # no upgrade()
        "app/versions/helper.py": "def upgrade():\n    pass\n",
    })
    assert graph.revisions == {} and graph.envs == []


def test_annotated_assignments_and_unreadable_down_revision(tmp_path):
    text = ('from typing import Sequence, Union\nfrom alembic import op\n\nrevision: str = "a"\n'
            'down_revision: Union[str, None] = None\nbranch_labels: Union[str, Sequence[str], None] = None\n\n\n'
            "def upgrade() -> None:\n    pass\n")
    graph, _ = build(tmp_path, {"migrations/versions/a.py": text,
                                "migrations/versions/b.py": rev("b", "a").replace("'a'", "PARENT")})
    assert graph.revisions["a"].down_revisions == () and graph.revisions["a"].downgrade_kind == "missing"
    assert graph.revisions["b"].down_unknown


def test_engine_ignores_pyproject_but_parser_reads_tool_alembic():
    from dbagents.check.facts._alembic_ini import parse_pyproject

    config = parse_pyproject('[tool.alembic]\nscript_location = "%(here)s/alembic"\n'
                             'version_locations = ["%(here)s/alembic/versions", "%(here)s/extra"]\n', "pyproject.toml")
    assert config is not None
    section = config.sections[0]
    assert section.script_location == "%(here)s/alembic"
    assert section.version_locations == ["%(here)s/alembic/versions", "%(here)s/extra"]


def test_partial_run_does_not_claim_missing_parents_or_heads(tmp_path):
    files = {
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "migrations/versions/a.py": rev("a", None),
        "migrations/versions/b.py": rev("b", "a"),
        "migrations/versions/c.py": rev("c", "a"),
        "migrations/versions/__init__.py": "",
    }
    _, findings = build(tmp_path, files, {"DBA213"})
    assert len(findings) == 2  # the whole folder: two heads
    only_c = tmp_path / "migrations/versions/c.py"
    outcome = check_tree([only_c, tmp_path / "alembic.ini"], root=tmp_path, config=Config(), enabled={"DBA213"},
                         jobs=1, use_cache=False)
    graph = outcome.project.get("alembic")
    assert not graph.envs[0].complete
    assert outcome.findings == []  # parent "a" exists on disk, this run just did not check it
