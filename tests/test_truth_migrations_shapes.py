"""Migration rules on the shapes real projects write (issue 12), each small example written here from a pattern
seen in the audit: the finding that was false is gone, and the true findings around it are still there."""

from __future__ import annotations

from dbagents.findings import Severity
from test_check_migrations_rules import lines, run

ALL = {"DBA206", "DBA207", "DBA208", "DBA209", "DBA211", "DBA212", "DBA216", "DBA217", "DBA218"}


def by_rule(found):
    out: dict[str, list[int]] = {}
    for f in found:
        out.setdefault(f.rule_id, []).append(f.line)
    return {rule: sorted(v) for rule, v in out.items()}


def test_uuid_swap_add_copy_drop_rename(tmp_path):
    """add new_id -> fill it -> enforce -> drop id -> rename new_id to id: the drop of the old column is the real
    problem (DBA208); renaming a column this upgrade added is not (DBA209)."""
    upgrade = (
        "    op.add_column('user', sa.Column('new_id', sa.Uuid()))\n"                    # 9
        "    op.execute('UPDATE \"user\" SET new_id = gen_random_uuid()')\n"              # 10
        "    op.alter_column('user', 'new_id', nullable=False)\n"                         # 11
        "    op.drop_column('user', 'id')\n"                                              # 12
        "    op.alter_column('user', 'new_id', new_column_name='id')\n"                   # 13
    )
    found = by_rule(run(tmp_path, upgrade, ALL - {"DBA211"}))
    assert "DBA209" not in found
    assert found["DBA208"] == [12]
    assert found["DBA216"] == [10]  # the UPDATE runs while add_column's ACCESS EXCLUSIVE is held


def test_backfill_then_enforce_is_not_dba216_but_set_not_null_still_is_dba206(tmp_path):
    upgrade = (
        "    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        "    op.execute('UPDATE organizations SET sso_enforced = false WHERE sso_enforced IS NULL')\n"
        "    op.alter_column('organizations', 'sso_enforced', existing_type=sa.Boolean(), nullable=False)\n"
    )
    found = by_rule(run(tmp_path, upgrade, ALL))
    assert "DBA216" not in found
    assert found["DBA206"] == [11]


def test_autogenerate_drop_index_then_drop_column_reports_only_the_column(tmp_path):
    upgrade = (
        "    op.drop_index('ix_flow_run__legacy', table_name='flow_run')\n"               # 9
        "    op.drop_column('flow_run', 'legacy')\n"                                      # 10
        "    op.drop_index('ix_deployment__name', table_name='deployment')\n"             # 11
        "    op.execute('DROP INDEX IF EXISTS ix_work_queue__name')\n"                    # 12
    )
    found = run(tmp_path, upgrade, {"DBA208", "DBA217"})
    assert lines(found, "DBA208") == [10]
    assert lines(found, "DBA217") == [11, 12]  # other tables: nothing else locks them here


def test_enum_add_value_revision_is_neither_a_lock_problem_nor_irreversible(tmp_path):
    upgrade = "    op.execute(\"ALTER TYPE state_type ADD VALUE IF NOT EXISTS 'CRASHED';\")\n"
    assert run(tmp_path, upgrade, ALL, downgrade="    pass\n") == []


def test_data_only_revisions_step_down_but_a_trigger_or_raw_ddl_name_does_not(tmp_path):
    orm = (
        "    bind = op.get_bind()\n"
        "    session = sa.orm.Session(bind=bind)\n"
        "    for row in session.execute(sa.text('SELECT id, options FROM plugin_instance')):\n"
        "        session.execute(sa.text('UPDATE plugin_instance SET options = :o WHERE id = :i'), {'o': '{}', 'i': 1})\n"
        "    session.commit()\n"
    )
    assert run(tmp_path / "orm", orm, {"DBA212"}, downgrade="    pass\n") == []
    trigger = (
        "    conn = op.get_context().connection\n"
        "    table = sa.Table('signal', sa.MetaData(), autoload_with=conn)\n"
        "    sync_trigger(conn, table, 'search_vector', ['name', 'description'])\n"
    )
    assert lines(run(tmp_path / "trigger", trigger, {"DBA212"}, downgrade="    pass\n")) == [14]
    imported = "    op.execute(sql_expressions)\n"
    head = ('import sqlalchemy as sa\nfrom alembic import op\nfrom sqlalchemy_searchable import sql_expressions\n\n'
            'revision = "a1"\ndown_revision = None\n\n\n')
    assert lines(run(tmp_path / "imported", imported, {"DBA212"}, downgrade="    pass\n", head=head)) == [13]


def test_numeric_widening_in_raw_sql_known_from_downgrade(tmp_path):
    upgrade = ("    op.execute('''\n"
               "        ALTER TABLE event_registration.forms\n"
               "            ALTER COLUMN base_price SET DATA TYPE numeric(11,2) USING base_price::numeric(11,2);\n"
               "        ALTER TABLE events.settings ALTER COLUMN \"value\" TYPE jsonb;\n"
               "    ''')\n")
    downgrade = ("    op.execute('''\n"
                 "        ALTER TABLE event_registration.forms\n"
                 "            ALTER COLUMN base_price SET DATA TYPE numeric(8,2) USING base_price::numeric(8,2);\n"
                 "    ''')\n")
    found = run(tmp_path, upgrade, {"DBA207"}, downgrade=downgrade)
    assert len(found) == 1 and "settings.value to jsonb" in found[0].message and "base_price" not in found[0].message


def test_long_names_op_f_is_fine_literal_is_an_error(tmp_path):
    long_fk = "oauth2_authorization_code_organizations_oauth2_authorization_code_id_fkey"
    upgrade = (
        "    op.create_table(\n"
        "        'oauth2_authorization_code_organizations',\n"
        "        sa.Column('oauth2_authorization_code_id', sa.Uuid(), nullable=False),\n"
        f"        sa.ForeignKeyConstraint(['oauth2_authorization_code_id'], ['codes.id'], name=op.f('{long_fk}')),\n"
        "    )\n"
        f"    op.create_foreign_key('{long_fk}', 'grants', 'codes', ['code_id'], ['id'])\n"
    )
    found = run(tmp_path, upgrade, {"DBA218"})
    assert [(f.line, f.severity) for f in found] == [(14, Severity.ERROR)]


def test_sqlite_only_branch_of_an_is_postgres_helper(tmp_path):
    head = ('import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "a1"\ndown_revision = None\n\n\n'
            'def is_postgres():\n    return op.get_context().dialect.name == "postgresql"\n\n\n')
    upgrade = (
        "    if is_postgres():\n"                                                          # 13
        "        op.alter_column('recipes', 'rating', existing_type=sa.INTEGER(), type_=sa.Float())\n"
        "    else:\n"
        "        op.execute('DROP INDEX IF EXISTS ix_favorites_user_id')\n"
        "        with op.batch_alter_table('recipes') as batch_op:\n"
        "            batch_op.alter_column('rating', existing_type=sa.INTEGER(), type_=sa.Float())\n"
    )
    found = run(tmp_path, upgrade, {"DBA207", "DBA217"}, head=head)
    assert by_rule(found) == {"DBA207": [14]}
