"""`dbagents check`, `dbagents rules`, `dbagents rule ID`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from dbagents.errors import InputError
from dbagents.findings import Severity, count_at_or_above
from dbagents.output import emit, fail_on_option, format_option

GROUP_NAMES = ("models", "migrations", "schema", "performance", "security")


def _split(values) -> list[str]:
    out = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _check_root(paths: list[Path]) -> Path:
    """The folder the engine keeps finding paths relative to (and caches results for): the checked folder, else
    the current one. Reports show paths relative to the current directory (see reporting.paths)."""
    cwd = Path.cwd().resolve()
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1 and resolved[0].is_dir():
        return resolved[0]
    if all(cwd == p or cwd in p.parents for p in resolved):
        return cwd
    return Path(os.path.commonpath([p if p.is_dir() else p.parent for p in resolved]))


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("args", nargs=-1)
@click.option("--select", multiple=True, help="Only these rule ids, prefixes or names (comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rule ids, prefixes or names (comma-separated).")
@format_option()
@fail_on_option(default=None)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="pyproject.toml to use.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache (kept per user, in "
              "$DBAGENTS_CACHE_DIR, else $XDG_CACHE_HOME/dbagents, else ~/.cache/dbagents).")
@click.option("--cache-clear", is_flag=True, help="Delete this folder's cached results before the run.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--database-url", help="Also run the live catalog checks against this PostgreSQL (read-only). "
              "For the schema and performance groups, $DATABASE_URL is used when this is not given.")
@click.option("--schema", "schemas", multiple=True, help="Database schema(s) for live checks (default: all non-system).")
@click.option("--scratch", is_flag=True, help="Run the Alembic chain on a throwaway PostgreSQL (executes your env.py and migrations).")
@click.option("--scratch-url", help="With --scratch: use this EMPTY database instead of starting a server.")
@click.option("--alembic-ini", type=click.Path(dir_okay=False, path_type=Path),
              help="alembic.ini for --scratch (default: ./alembic.ini, else the only one one or two folders down).")
@click.option("--alembic-name", metavar="SECTION", help="Section of alembic.ini for --scratch, like alembic's --name "
              "(default: alembic).")
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of the findings (text format).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline file (default: [tool.dbagents] baseline, else .dbagents-baseline.json in the project "
              "root). Findings it lists are hidden.")
@click.option("--no-baseline", is_flag=True, help="Report every finding, also those the baseline lists.")
@click.option("--write-baseline", is_flag=True, help="Record today's findings in the baseline file (entries that "
              "still match are kept) and exit 0.")
@click.option("--since-revision", metavar="REV", help="Alembic revisions up to REV in the graph are history: "
              "migration rules skip them (like [tool.dbagents] migrations-start-after).")
@click.option("--changed-since", metavar="REF", help="Judge only findings on lines changed since the merge base of "
              "git REF and HEAD (work tree and untracked files included); facts still come from every file.")
@click.option("--only-files", is_flag=True, help="PATHS are files to judge (what the pre-commit hook passes): facts "
              "come from the whole project, findings only from these files.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes of the reported findings, then report what is left "
              "(needs the fix extra: pip install 'dbagents[fix]').")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and write nothing; exit 1 when there is "
              "something to fix, 0 otherwise.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also the fixes that change the database "
              "schema or what the code does.")
@click.option("--emit-revision", is_flag=True, help="Write a new Alembic revision on the current head: with --fix, for "
              "the schema changes of the applied fixes; with --database-url, for the live DBA301/DBA302/DBA303 "
              "findings (with --diff: show it).")
def check_cmd(args, select, ignore, fmt, fail_on, config_path, no_cache, cache_clear, jobs, database_url, schemas,
              scratch, scratch_url, alembic_ini, alembic_name, statistics, baseline_path, no_baseline,
              write_baseline, since_revision, changed_since, only_files, fix, diff, unsafe_fixes, emit_revision):
    """Check SQLAlchemy models, Alembic migrations and raw SQL; optionally a live PostgreSQL.

    ARGS: an optional GROUP (models, migrations, schema, performance, security) followed by PATHS
    (default: the current directory).
    """
    from dbagents.check import changed
    from dbagents.check.adopt import adopt
    from dbagents.check.baseline import project_root
    from dbagents.check.discover import file_kind
    from dbagents.check.engine import check_tree
    from dbagents.check.registry import all_rule_infos, check_patterns, selected_ids
    from dbagents.config import load_config

    args = list(args)
    groups = []
    if args and args[0] in GROUP_NAMES:
        groups.append(args.pop(0))
    if write_baseline and (changed_since or only_files):
        raise InputError("--write-baseline records the findings of the whole run; drop --changed-since/--only-files")
    if changed_since and only_files:
        raise InputError("use --changed-since or --only-files, not both")
    _check_fix_options(fix, diff, unsafe_fixes, fmt, write_baseline, database_url, scratch or bool(scratch_url))
    paths = [Path(a) for a in args] or ([] if only_files else [Path(".")])
    for p in paths:
        if not p.exists():
            raise InputError("no such file or directory; pass a folder or .py file to check", path=str(p))
    scope = None
    if only_files:
        if any(p.is_dir() for p in paths):
            raise InputError("--only-files takes files, not folders; drop the option to check a folder")
        config = load_config(paths[0] if paths else Path("."), config_path)
        root = project_root(config, paths[0].resolve().parent if paths else None).resolve()
        scope = changed.named([p for p in paths if file_kind(p)])
        paths = [root]
    else:
        root = _check_root(paths)
        config = load_config(root, config_path)
        if changed_since:
            scope = changed.since(changed_since)
    if scope is not None:
        config.in_progress = frozenset(scope.files)  # revisions in scope are never "past" (file roles)
    if since_revision:
        config.migrations_start_after, config.start_after_source = since_revision.strip(), "--since-revision"
    cli_select, cli_ignore = _split(select), _split(ignore)
    check_patterns(cli_select, "--select")
    check_patterns(cli_ignore, "--ignore")
    if config.path:
        check_patterns(config.select + config.ignore, str(config.path))
    enabled = selected_ids(groups, cli_select or config.select, config.ignore + cli_ignore)
    threshold = Severity.parse(fail_on) if fail_on else (config.fail_on or Severity.ERROR)

    if cache_clear:
        from dbagents.check.cache import clear

        clear(root)
    if scope is not None and not scope.files:
        outcome = None  # nothing to judge (a commit without Python changes): no need to read the project
        findings: list = []
    else:
        outcome = check_tree(paths, root=root, config=config, enabled=enabled, jobs=jobs,
                             use_cache=config.cache and not no_cache)
        findings = list(outcome.findings)

    if database_url is None and groups and groups[0] in ("schema", "performance"):
        database_url = os.environ.get("DATABASE_URL") or None
    if emit_revision:
        from dbagents.revisions.emit import require_source

        require_source(database_url, fixing=fix or diff)
    scratch_error = None  # reported after the findings: a failed scratch run must not lose them
    if (database_url or scratch or scratch_url) and outcome is None:
        outcome = check_tree(paths, root=root, config=config, enabled=enabled, jobs=jobs,
                             use_cache=config.cache and not no_cache)
        findings = list(outcome.findings)
    if database_url or scratch or scratch_url:
        from dbagents.check.external import run_external
        from dbagents.scratch import ScratchError

        try:
            external = run_external(outcome.project, enabled, database_url=database_url, schemas=list(schemas),
                                    scratch=scratch or bool(scratch_url), scratch_url=scratch_url,
                                    alembic_ini=alembic_ini, alembic_name=alembic_name, groups=groups)
        except ScratchError as exc:
            scratch_error, external = exc, exc.findings
        # The scratch run re-proves what the static engine may already have said (e.g. DBA213 two heads).
        seen = {(f.rule_id, f.path, f.line) for f in findings if f.path}
        findings.extend(f for f in external if not (f.path and (f.rule_id, f.path, f.line) in seen))
    adopted = adopt(findings, outcome, scope, root=root, config=config, enabled=enabled,
                    baseline_option=None if no_baseline and not write_baseline else baseline_path,
                    use_baseline=write_baseline or not no_baseline)
    if write_baseline:
        click.echo(adopted.write())
        sys.exit(0)
    fixing = None
    if (fix or diff) and outcome is not None:
        from dbagents.check.fix import run_fixes

        fixing = run_fixes(outcome, adopted.findings, enabled=enabled, unsafe=unsafe_fixes)
        planned = _plan_revision(root, outcome, fixing=fixing, alembic_ini=alembic_ini,
                                 alembic_name=alembic_name) if emit_revision else None
        if diff:
            _show_diff(fixing, planned)
        from dbagents.check.fix.write import write_files

        fixing.notes.extend(write_files(fixing))
        if planned is not None:
            from dbagents.revisions.emit import write_and_report

            write_and_report(planned)
        outcome = fixing.outcome
        adopted = adopt(list(outcome.findings), outcome, scope, root=root, config=config, enabled=enabled,
                        baseline_option=None if no_baseline else baseline_path, use_baseline=not no_baseline)
    elif diff:
        sys.exit(0)  # nothing was judged: nothing to fix
    findings = adopted.findings
    if emit_revision and database_url and fixing is None:
        from dbagents.revisions.emit import write_and_report

        planned = _plan_revision(root, outcome, findings=findings, database_url=database_url,
                                 live=config.sections.get("live", {}), alembic_ini=alembic_ini,
                                 alembic_name=alembic_name)
        if planned is not None:
            write_and_report(planned)
    infos = all_rule_infos()
    rules = {rid: infos[rid] for rid in sorted(enabled) if rid in infos}
    if statistics and fmt == "text":
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.rule_id] = counts.get(f.rule_id, 0) + 1
        for rid, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            click.echo(f"{n:6d}  {rid}  {infos[rid].name if rid in infos else ''}")
        code = 1 if count_at_or_above(findings, threshold) else 0
    elif scratch_error is None or findings or fmt != "text":  # never "All checks passed." before an error
        checked = {"root": str(root), "files": outcome.files_seen if outcome else 0,
                   "parsed": outcome.files_parsed if outcome else 0}
        extra = {"checked": checked, **adopted.extra()}
        if fixing is not None:
            from dbagents.check.fix.summary import json_extra

            extra["fix"] = json_extra(fixing, wrote=True)
        code = emit(findings, rules, fmt, threshold, root=str(root), extra=extra)
    if fmt == "text" and (scratch_error is None or findings or statistics):
        for line in adopted.notes():
            click.echo(line)
    if fixing is not None:
        from dbagents.check.fix.summary import summary_lines

        for line in summary_lines(fixing, wrote=True):
            click.echo(line, err=fmt != "text")
    if scratch_error is not None:
        sys.stdout.flush()
        raise InputError(str(scratch_error))
    sys.exit(code)


def _check_fix_options(fix, diff, unsafe, fmt, write_baseline, database_url, scratch) -> None:
    """--fix/--diff/--unsafe-fixes go together only in ways that mean something; libcst must be there."""
    if not (fix or diff):
        if unsafe:
            raise InputError("--unsafe-fixes goes with --fix or --diff")
        return
    if fix and diff:
        raise InputError("use --fix (write the fixes) or --diff (show them), not both")
    if diff and fmt != "text":
        raise InputError("--diff prints a unified diff; drop --format")
    if write_baseline:
        raise InputError("--write-baseline records findings; run it without --fix/--diff")
    if database_url or scratch:
        raise InputError("--fix/--diff fix the static findings; run the live or --scratch checks separately")
    from dbagents.check.fix import require_libcst

    require_libcst()


def _show_diff(fixing, planned=None) -> None:
    """--diff: the unified diff on stdout (with --emit-revision also the new revision file), the summary on stderr;
    exit 1 when something would change (as ruff)."""
    from dbagents.check.fix.summary import summary_lines
    from dbagents.check.fix.write import unified_diff
    from dbagents.revisions.emit import new_file_diff

    click.echo(unified_diff(fixing) + new_file_diff(planned), nl=False)
    for line in summary_lines(fixing, wrote=False):
        click.echo(line, err=True)
    sys.exit(1 if fixing.files or planned is not None else 0)


def _plan_revision(root, outcome, *, fixing=None, findings=(), database_url=None, live=None, alembic_ini=None,
                   alembic_name=None):
    """--emit-revision: the revision for an applied fix run or for live findings (planned, not yet written)."""
    from dbagents.live.settings import LiveSettings
    from dbagents.revisions.emit import fix_changes, plan_revision

    return plan_revision(root, findings=findings, database_url=database_url,
                         live_settings=LiveSettings.from_mapping(live or {}),
                         changes=fix_changes(fixing) if fixing is not None else (),
                         project=outcome.project if outcome is not None else None, alembic_ini=alembic_ini,
                         alembic_name=alembic_name)


@click.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--group", type=click.Choice(GROUP_NAMES), help="Only rules of this group.")
def rules_cmd(fmt, group):
    """List every rule: id, name, groups, default severity, fix (always, sometimes, unsafe) and summary."""
    import json

    from dbagents.check.registry import all_rule_infos, groups_of, static_rules

    rows = []
    for rid, info in all_rule_infos().items():
        groups = groups_of(rid)
        if group and group not in groups:
            continue
        cls = static_rules().get(rid)
        kind = "static" if cls or rid == "DBA000" else ("runtime" if rid.startswith("DBA4") else "live")
        rows.append({"id": rid, "name": info.name, "groups": list(groups), "severity": info.severity.label,
                     "kind": kind, "default": bool(cls.default_enabled) if cls else True,
                     "fix": cls.fixable if cls else "", "summary": info.summary})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "markdown":
        click.echo("| id | name | groups | severity | kind | fix | summary |")
        click.echo("|---|---|---|---|---|---|---|")
        for r in rows:
            opt = " (opt-in)" if not r["default"] else ""
            click.echo(f"| {r['id']} | `{r['name']}` | {', '.join(r['groups'])} | {r['severity']} | "
                       f"{r['kind']}{opt} | {r['fix']} | {r['summary']} |")
    else:
        for r in rows:
            opt = " (opt-in)" if not r["default"] else ""
            click.echo(f"{r['id']}  {r['name']:<40} {r['severity']:<8} {r['kind']}{opt:<9} {r['fix'] or '-':<9} "
                       f"{r['summary']}")


@click.command("rule")
@click.argument("rule_id")
def rule_cmd(rule_id):
    """Print one rule's documentation: what it does, why, example and fix (DBA… check rules, CC… validator rules)."""
    from dbagents.check.registry import all_rule_infos, groups_of
    from dbagents.validate.rules import VALIDATOR_RULES

    infos = {**all_rule_infos(), **VALIDATOR_RULES}
    wanted = rule_id.strip()
    info = infos.get(wanted.upper()) or next((i for i in infos.values() if i.name == wanted.lower()), None)
    if info is None:
        raise InputError(f"unknown rule {rule_id!r}; run `dbagents rules` to list the check rules (`dbagents "
                         f"validate` has {min(VALIDATOR_RULES)}…{max(VALIDATOR_RULES)})")
    click.echo(f"# {info.id} {info.name}\n")
    where = "Checked by `dbagents validate`" if info.id in VALIDATOR_RULES else \
        f"Groups: {', '.join(groups_of(info.id)) or '-'}"
    click.echo(f"Default severity: {info.severity.label}. {where}.\n")
    click.echo(f"{info.summary}\n")
    click.echo(info.help.strip())
