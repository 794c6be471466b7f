"""Click commands `install`, `uninstall` and `status` (registered lazily in dbagents.cli)."""

from __future__ import annotations

import json
from collections import Counter

import click

from dbagents.bundle import COMPONENTS
from dbagents.errors import InputError

SUMMARY_ORDER = (
    ("created", ("create", "restore")),
    ("updated", ("update",)),
    ("replaced", ("replace",)),
    ("unchanged", ("unchanged",)),
    ("kept (modified by you)", ("kept", "kept_new", "obsolete_kept")),
    ("removed", ("obsolete_removed", "obsolete_backup")),
    ("conflicts", ("conflict",)),
)


def _parse_only(value: str | None) -> tuple[str, ...]:
    if not value:
        return COMPONENTS
    parts = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    bad = [p for p in parts if p not in COMPONENTS]
    if bad or not parts:
        shown = ", ".join(bad) or repr(value)
        raise click.BadParameter(
            f"unknown component {shown}; use a comma list of {', '.join(COMPONENTS)}", param_hint="'--only'"
        )
    return parts


def scope_options(func):
    func = click.option(
        "--path", "path", type=click.Path(file_okay=False), default=None,
        help="Project root whose .claude/ to use (default: the current folder).",
    )(func)
    func = click.option(
        "--scope", type=click.Choice(["project", "user"]), default="project", show_default=True,
        help="project: ./.claude of the project root; user: ~/.claude (all projects).",
    )(func)
    return func


@click.command("install")
@scope_options
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option("--force", is_flag=True, help="Replace files you changed or created (a backup is saved beside each).")
@click.option("--only", "only_text", metavar="LIST", help="Comma list of components: agents,commands,context.")
@click.option("--with-mcp", is_flag=True, help="Also add the MCP servers the agents use (context7, sequentialthinking).")
@click.option("--with-hooks", is_flag=True, help="Also add the `dbagents hook` PostToolUse hook (Edit|Write) to "
              ".claude/settings.json: Claude sees the findings in each file it edits.")
def install_cmd(scope, path, dry_run, force, only_text, with_mcp, with_hooks):
    """Copy the agents, commands and context docs into .claude/ (safe to run again; never loses your edits)."""
    from dbagents.install.apply import apply_install
    from dbagents.install.hooks import plan_hooks
    from dbagents.install.manifest import load_manifest
    from dbagents.install.mcp import plan_mcp
    from dbagents.install.planning import plan_install
    from dbagents.install.source import load_source
    from dbagents.install.target import resolve_target
    from dbagents.install.validation import validate_bundle

    only = _parse_only(only_text)
    target = resolve_target(scope, path)
    source = load_source(target.scope)
    validate_bundle(source)
    manifest = load_manifest(target.manifest_path)
    plan = plan_install(target, source, manifest, only, force)
    mcp = plan_mcp(target, source) if with_mcp else None
    hooks = plan_hooks(target) if with_hooks else None

    verb = "Dry run: would install" if dry_run else "Installing"
    click.echo(f"{verb} dbagents {source.version} into {target.claude_dir} ({target.scope} scope)")

    def report(action):
        click.echo(f"{target.show(action.relpath)}: {action.label(target, dry_run)}")

    if dry_run:
        for action in plan.actions:
            report(action)
        changes = sum(a.writes for a in plan.actions) + int(plan.manifest_changed)
    else:
        changes = apply_install(plan, mcp, report, hooks)
    if mcp is not None:
        _report_mcp(mcp, dry_run)
        if dry_run and mcp.new_bytes is not None:
            changes += 1
    if hooks is not None:
        shown = target.show(hooks.path.name)
        if hooks.present:
            click.echo(f"{shown}: PostToolUse hook `dbagents hook` already configured, left as is")
        else:
            click.echo(f"{shown}: {'would add' if dry_run else 'added'} PostToolUse hook `dbagents hook` "
                       "(Edit|Write)")
            changes += int(dry_run)

    counts = Counter(a.kind for a in plan.actions)
    parts = [f"{sum(counts[k] for k in kinds)} {name}" for name, kinds in SUMMARY_ORDER if sum(counts[k] for k in kinds)]
    new_count = sum(1 for a in plan.actions if a.kind == "kept_new")
    if new_count:
        parts.append(f"{new_count} new version(s) waiting as .new files (merge them, then delete the .new)")
    if changes == 0:
        click.echo(f"Everything is up to date ({', '.join(parts) or 'nothing selected'}); nothing written.")
    else:
        prefix = "Would do" if dry_run else "Done"
        click.echo(f"{prefix}: {', '.join(parts)}.")
    if counts["conflict"]:
        click.echo(
            f"{counts['conflict']} file(s) exist that dbagents did not install and were left as they are; "
            "rename them, or run `dbagents install --force` to replace them (a backup is kept).",
            err=True,
        )
        raise SystemExit(1)


def _report_mcp(mcp, dry_run: bool) -> None:
    from dbagents.install.mcp import MCP_FILE

    for name in mcp.unknown:
        click.echo(f"note: an agent uses MCP server {name!r}, which dbagents does not know how to configure")
    if mcp.path is None:
        for name in mcp.present:
            click.echo(f"~/.claude.json: MCP server {name} already configured, left as is")
        if mcp.user_commands:
            click.echo("dbagents does not edit ~/.claude.json; run these to add the MCP servers for all your projects:")
            for line in mcp.user_commands:
                click.echo(f"  {line}")
        return
    for name in mcp.present:
        click.echo(f"{MCP_FILE}: MCP server {name} already configured, left as is")
    for name in mcp.to_add:
        click.echo(f"{MCP_FILE}: {'would add' if dry_run else 'added'} MCP server {name}")


@click.command("uninstall")
@scope_options
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@click.option("--force", is_flag=True, help="Also remove files you changed (a backup is saved beside each).")
@click.option("--only", "only_text", metavar="LIST", help="Comma list of components: agents,commands,context.")
def uninstall_cmd(scope, path, dry_run, force, only_text):
    """Remove the files dbagents installed that you did not change, and the folders it left empty."""
    from dbagents.install.manifest import load_manifest
    from dbagents.install.target import resolve_target
    from dbagents.install.uninstall import apply_uninstall, plan_uninstall

    only = _parse_only(only_text)
    target = resolve_target(scope, path)
    manifest = load_manifest(target.manifest_path)
    if not manifest.exists:
        click.echo(f"Nothing to uninstall: no dbagents manifest in {target.claude_dir}.")
        return
    plan = plan_uninstall(target, manifest, only, force, all_components=only == COMPONENTS)
    click.echo(f"{'Dry run: would uninstall' if dry_run else 'Uninstalling'} dbagents from {target.claude_dir}")

    def report(action):
        click.echo(f"{target.show(action.relpath)}: {action.label(target, dry_run)}")

    if dry_run:
        for action in plan.actions:
            report(action)
        removed_dirs = []
    else:
        removed_dirs = apply_uninstall(target, plan, report)
    for folder in removed_dirs:
        shown = target.label if folder == "." else target.show(folder)
        click.echo(f"{shown}/: removed empty folder")
    for name in plan.mcp_removed:
        click.echo(f".mcp.json: {'would remove' if dry_run else 'removed'} MCP server {name}")
    for name in plan.mcp_kept:
        click.echo(f".mcp.json: MCP server {name} changed since dbagents added it, left as is")
    if plan.hook_state == "removed":
        click.echo(f"{target.show(plan.hooks_path.name)}: {'would remove' if dry_run else 'removed'} the "
                   "PostToolUse hook `dbagents hook`")
    elif plan.hook_state == "changed":
        click.echo(f"{target.show(plan.hooks_path.name)}: the `dbagents hook` entry changed since dbagents added "
                   "it, left as is")
    kept = [a for a in plan.actions if a.kind == "kept"]
    removed = sum(1 for a in plan.actions if a.kind in ("remove", "backup_remove"))
    click.echo(f"{'Would remove' if dry_run else 'Removed'} {removed} file(s); kept {len(kept)} you changed.")
    if kept:
        click.echo("Kept (modified by you): " + ", ".join(target.show(a.relpath) for a in kept)
                   + ". Run `dbagents uninstall --force` to remove them after a backup.")


@click.command("status")
@scope_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status_cmd(scope, path, fmt):
    """Show what dbagents installed, which version, and which files you edited."""
    from dbagents.install.hooks import hook_state
    from dbagents.install.manifest import load_manifest
    from dbagents.install.source import load_source
    from dbagents.install.status import component_states, file_states
    from dbagents.install.target import resolve_target

    target = resolve_target(scope, path)
    manifest = load_manifest(target.manifest_path)
    source = load_source(target.scope)
    files = file_states(target, manifest, source)
    components = component_states(files)
    installed = manifest.exists
    hook = hook_state(target, manifest.hooks)
    if fmt == "json":
        doc = {
            "target": str(target.claude_dir),
            "scope": target.scope,
            "installed": installed,
            "installed_version": manifest.dbagents_version or None,
            "bundle_version": source.version,
            "components": components,
            "files": [f.to_dict() for f in files],
            "mcp_servers_added": sorted((manifest.mcp or {}).get("servers") or {}),
            "hook": hook,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if not installed:
        click.echo(f"dbagents is not installed in {target.claude_dir} (run `dbagents install`"
                   f"{' --scope user' if target.scope == 'user' else ''}).")
        if any(f.state != "not installed" for f in files):
            _print_files(target, files)
        return
    click.echo(f"dbagents {manifest.dbagents_version} installed in {target.claude_dir} ({target.scope} scope); "
               f"this dbagents ships bundle {source.version}")
    for component, state in components.items():
        click.echo(f"  {component:<9} {state}")
    click.echo(f"  {'hook':<9} {hook} ({target.show('settings.json')}: PostToolUse Edit|Write -> dbagents hook)")
    _print_files(target, files)
    hints = []
    states = {f.state for f in files}
    if states & {"update available", "missing", "not installed", "obsolete"}:
        hints.append("run `dbagents install` to update")
    if "new pending" in states:
        hints.append("merge each .new file into the file beside it, then delete the .new")
    if hints:
        click.echo("Next: " + "; ".join(hints) + ".")


def _print_files(target, files) -> None:
    width = max(len(f.state) for f in files) if files else 0
    for f in files:
        extra = f" (new version in {target.show(f.new_file)})" if f.new_file else ""
        click.echo(f"{f.state:<{width}}  {target.show(f.relpath)}{extra}")
