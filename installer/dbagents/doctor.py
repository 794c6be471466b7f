"""`dbagents doctor`: what works in this setup and what to fix, one line per check (ok / warn / fail)."""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from dbagents import __version__

OK, WARN, FAIL = "ok", "warn", "fail"
PDA_AGENT = "agents/python-database-administrator.md"
MANIFEST_NAME = ".dbagents.json"
_FRONTMATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---\s*(?:\r?\n|\Z)", re.S)
_MCP_TOOL = re.compile(r"\bmcp__([A-Za-z0-9_-]+?)__")


@dataclass
class Check:
    status: str  # ok | warn | fail
    name: str
    detail: str
    fix: str = ""


# ---------------------------------------------------------------- Claude Code


def check_claude_code(timeout: float) -> list[Check]:
    exe = shutil.which("claude")
    if exe is None:
        return [Check(WARN, "Claude Code", "`claude` is not on PATH; the agents and /validate-* commands need it",
                      "npm install -g @anthropic-ai/claude-code")]
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=max(timeout, 10))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Check(FAIL, "Claude Code", f"{exe} does not run: {exc}", "reinstall: npm install -g @anthropic-ai/claude-code")]
    version = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"
    if out.returncode != 0:
        return [Check(FAIL, "Claude Code", f"`claude --version` exited {out.returncode}: {version}",
                      "reinstall: npm install -g @anthropic-ai/claude-code")]
    return [Check(OK, "Claude Code", f"{version} ({exe})")]


# ---------------------------------------------------------------- bundle


def _read_manifest(claude_dir: Path) -> dict | None:
    try:
        data = json.loads((claude_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"broken": True}
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {"broken": True}


def check_bundle_scope(label: str, claude_dir: Path, install_hint: str) -> Check | None:
    """One scope's bundle: installed per its manifest, every file present, and valid per `dbagents validate`."""
    manifest = _read_manifest(claude_dir)
    name = f"bundle ({label})"
    if manifest is None:
        return None
    if manifest.get("broken"):
        return Check(FAIL, name, f"{claude_dir / MANIFEST_NAME} is not a dbagents manifest",
                     f"move it away, then run `{install_hint}`")
    files = [claude_dir / rel for rel in manifest["files"]]
    missing = [str(p.relative_to(claude_dir)) for p in files if not p.is_file()]
    if missing:
        return Check(FAIL, name, f"installed files missing: {', '.join(missing)}", f"run `{install_hint}`")
    from dbagents.validate import validate_paths

    checked = [p for p in files if p.suffix == ".md" and p.parent.name in {"agents", "commands"}]
    findings = validate_paths(checked, root=claude_dir.parent) if checked else []
    errors = [f for f in findings if f.severity.label == "error"]
    warnings = [f for f in findings if f.severity.label == "warning"]
    version = manifest.get("dbagents_version", "?")
    where = f"{claude_dir} (dbagents {version}, {len(files)} files)"
    if errors:
        first = errors[0]
        return Check(FAIL, name, f"{where}: {len(errors)} validation error(s), e.g. {first.path}:{first.line}: "
                     f"{first.rule_id} {first.message}", f"run `dbagents validate {claude_dir}` and fix, or `{install_hint} --force`")
    if version != __version__:
        return Check(WARN, name, f"{where}; this is dbagents {__version__}", f"run `{install_hint}` to update")
    if warnings:
        return Check(WARN, name, f"{where}: {len(warnings)} validation warning(s)", f"run `dbagents validate {claude_dir}`")
    return Check(OK, name, f"{where}, valid")


def check_plugin(home: Path) -> Check | None:
    try:
        data = json.loads((home / ".claude" / "plugins" / "installed_plugins.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key, entries in (data.get("plugins") or {}).items():
        if key.split("@")[0] == "dbagents" and entries:
            entry = entries[0] if isinstance(entries, list) else entries
            return Check(OK, "bundle (plugin)", f"Claude Code plugin {key} {entry.get('version', '?')} "
                         f"({entry.get('scope', '?')} scope); plugin agents ignore permissionMode and mcpServers")
    return None


def check_bundle(project: Path, home: Path) -> list[Check]:
    checks = [
        check_bundle_scope("project", project / ".claude", "dbagents install"),
        check_bundle_scope("user", home / ".claude", "dbagents install --scope user"),
        check_plugin(home),
    ]
    found = [c for c in checks if c is not None]
    if not found:
        return [Check(WARN, "bundle", "dbagents is not installed in this project, in ~/.claude, or as a plugin",
                      "dbagents install   (or: dbagents install --scope user)")]
    return found


# ---------------------------------------------------------------- MCP servers


def _frontmatter(path: Path) -> dict:
    import yaml

    try:
        match = _FRONTMATTER.match(path.read_text(encoding="utf-8"))
        data = yaml.safe_load(match.group(1)) if match else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _server_keys(data) -> set[str]:
    if isinstance(data, dict) and isinstance(data.get("mcpServers"), dict):
        return set(data["mcpServers"])
    return set()


def _agent_servers(front: dict) -> dict[str, dict]:
    """Servers an agent defines inline in `mcpServers` (a list of names or {name: config})."""
    out: dict[str, dict] = {}
    entries = front.get("mcpServers")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            out.update({str(k): v if isinstance(v, dict) else {} for k, v in entry.items()})
    return out


def check_mcp(project: Path, home: Path) -> list[Check]:
    agent = next((p for p in (project / ".claude" / PDA_AGENT, home / ".claude" / PDA_AGENT) if p.is_file()), None)
    installed = agent is not None
    if agent is None:  # not installed (or only as a plugin, which ignores agent mcpServers): use the shipped one
        from dbagents.bundle import bundle_root

        agent = bundle_root() / PDA_AGENT
    front = _frontmatter(agent)
    tools = front.get("tools", "")
    tools = tools if isinstance(tools, str) else " ".join(map(str, tools))
    wanted = list(dict.fromkeys(_MCP_TOOL.findall(tools)))
    inline = _agent_servers(front) if installed else {}
    user_config = _read_json(home / ".claude.json")
    sources = {
        str(project / ".mcp.json"): _server_keys(_read_json(project / ".mcp.json")),
        "~/.claude.json (user)": _server_keys(user_config),
        "~/.claude.json (local, this project)": _server_keys(
            (user_config.get("projects") or {}).get(str(project.resolve())) if isinstance(user_config, dict) else None
        ),
    }
    from dbagents.install.mcp import KNOWN_SERVERS

    checks = []
    for server in wanted:
        where = [src for src, names in sources.items() if server in names]
        name = f"MCP {server}"
        if where:
            checks.append(Check(OK, name, f"configured in {', '.join(where)}"))
            continue
        config = inline.get(server) or KNOWN_SERVERS.get(server, {})
        command = [config.get("command", "<command>"), *config.get("args", [])]
        fix = f"claude mcp add --scope project {server} -- {' '.join(command)}"
        if server in inline:
            exe = config.get("command")
            if exe and shutil.which(exe) is None:
                checks.append(Check(WARN, name, f"defined in {agent.name} but `{exe}` is not on PATH; "
                                    "the agent falls back to the bundled standards", "install Node.js (npx)"))
            else:
                checks.append(Check(OK, name, f"defined by the agent itself ({agent}); "
                                    "a plugin install ignores that definition", ""))
            continue
        checks.append(Check(WARN, name, f"{agent.name} names it in tools but it is configured nowhere; "
                            "the agent falls back to the bundled standards", fix))
    return checks


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- Alembic


def check_alembic(project: Path) -> list[Check]:
    ini = project / "alembic.ini"
    if not ini.is_file():
        return [Check(WARN, "Alembic", f"no alembic.ini in {project}; /validate-alembic-migrations needs one",
                      "alembic init alembic   (or run dbagents from the folder holding alembic.ini)")]
    parser = configparser.ConfigParser(defaults={"here": str(project)})
    try:
        parser.read(ini, encoding="utf-8")
        location = parser.get("alembic", "script_location")
    except (configparser.Error, UnicodeDecodeError) as exc:
        return [Check(FAIL, "Alembic", f"{ini}: {str(exc).splitlines()[0]}", "add [alembic] script_location = alembic")]
    if ":" in location and not Path(location).is_absolute() and not (project / location).exists():
        package, _, sub = location.partition(":")  # package resource form, e.g. myapp:migrations
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
        folder = Path(next(iter(spec.submodule_search_locations))) / sub if spec and spec.submodule_search_locations else None
    else:
        folder = Path(location) if Path(location).is_absolute() else project / location
    if folder is None or not folder.is_dir():
        return [Check(FAIL, "Alembic", f"{ini}: script_location {location} does not exist",
                      "fix script_location in alembic.ini")]
    versions = folder / "versions"
    count = len(list(versions.glob("*.py"))) if versions.is_dir() else 0
    env = "env.py found" if (folder / "env.py").is_file() else "env.py MISSING"
    status = OK if (folder / "env.py").is_file() else FAIL
    return [Check(status, "Alembic", f"{ini.name}: script_location {location} ({env}, {count} revision files)",
                  "" if status == OK else "restore env.py (alembic init creates one)")]


# ---------------------------------------------------------------- DATABASE_URL


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as the libpq URL psycopg understands."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)


def check_database_url(url: str | None, timeout: float) -> list[Check]:
    if not url:
        return [Check(WARN, "DATABASE_URL", "not set; live checks (--database-url) have no default database",
                      "export DATABASE_URL=postgresql://user@host/dbname")]
    masked = mask_url(url)
    if not re.match(r"^postgres(ql)?(\+\w+)?://", url):
        return [Check(FAIL, "DATABASE_URL", f"{masked} is not a PostgreSQL URL", "use postgresql://user:password@host/db")]
    try:
        import psycopg
    except ImportError:
        return [Check(WARN, "DATABASE_URL", f"{masked} set; reachability not tested (psycopg is not installed)",
                      "pip install 'dbagents[postgres]'")]
    password = urlsplit(url).password or ""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=max(1, int(timeout)),
                             options="-c default_transaction_read_only=on") as conn:
            conn.read_only = True
            version = conn.execute("SHOW server_version").fetchone()[0]
            conn.rollback()
    except Exception as exc:  # any driver error means: not reachable with this URL
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if password:
            reason = reason.replace(password, "***")
        return [Check(FAIL, "DATABASE_URL", f"{masked} is not reachable: {reason}",
                      "check host, port, credentials and that the server runs")]
    return [Check(OK, "DATABASE_URL", f"{masked} reachable (PostgreSQL {version}, read-only session)")]


# ---------------------------------------------------------------- scratch PostgreSQL


def _pg_config_bindir(timeout: float) -> Path | None:
    exe = shutil.which("pg_config")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--bindir"], capture_output=True, text=True, timeout=max(timeout, 5))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def check_scratch(timeout: float) -> list[Check]:
    if importlib.util.find_spec("pgserver") is not None:
        return [Check(OK, "scratch PostgreSQL", "pgserver is installed (embedded server for --scratch)")]
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return [Check(OK, "scratch PostgreSQL", f"local binaries on PATH ({Path(initdb).parent})")]
    bindir = _pg_config_bindir(timeout)
    if bindir and (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
        return [Check(OK, "scratch PostgreSQL", f"local binaries via pg_config --bindir ({bindir})")]
    return [Check(WARN, "scratch PostgreSQL", "neither pgserver nor initdb/pg_ctl found; --scratch cannot start a server",
                  "pip install 'dbagents[scratch]'   (or install the PostgreSQL server binaries)")]


# ---------------------------------------------------------------- pytest plugin


def check_pytest_plugin() -> list[Check]:
    try:
        importlib.import_module("dbagents.pytest_plugin.plugin")
    except Exception as exc:
        return [Check(FAIL, "pytest N+1 plugin", f"dbagents.pytest_plugin does not import: {exc}",
                      "reinstall: pip install --force-reinstall dbagents")]
    if importlib.util.find_spec("pytest") is None:
        return [Check(WARN, "pytest N+1 plugin", "importable, but pytest is not installed here",
                      "pip install pytest  (in the environment your tests run in)")]
    return [Check(OK, "pytest N+1 plugin", "importable; enable with pytest --dbagents-nplusone=warn")]


# ---------------------------------------------------------------- command


def run_checks(project: Path, home: Path, database_url: str | None, timeout: float) -> list[Check]:
    return [
        *check_claude_code(timeout),
        *check_bundle(project, home),
        *check_mcp(project, home),
        *check_alembic(project),
        *check_database_url(database_url, timeout),
        *check_scratch(timeout),
        *check_pytest_plugin(),
    ]


def render_text(checks: list[Check], project: Path, color: bool) -> str:
    colors = {OK: "green", WARN: "yellow", FAIL: "red"}
    width = max(len(c.name) for c in checks)
    lines = [f"dbagents doctor {__version__} ({project})"]
    for c in checks:
        status = click.style(f"{c.status:<4}", fg=colors[c.status], bold=True) if color else f"{c.status:<4}"
        lines.append(f"{status}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"      {'':<{width}}  fix: {c.fix}")
    counts = {s: sum(1 for c in checks if c.status == s) for s in (OK, WARN, FAIL)}
    lines.append(f"{counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} fail")
    return "\n".join(lines) + "\n"


@click.command("doctor")
@click.option("--path", "path", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Project root to inspect.")
@click.option("--database-url", default=None, help="Database to test instead of $DATABASE_URL.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds per network/process check.")
def doctor_cmd(path: Path, database_url: str | None, fmt: str, timeout: float):
    """Tell what works in this setup and what to fix (exit 1 if any check fails)."""
    from dbagents.errors import InputError

    if not path.is_dir():
        raise InputError("is not a folder; pass the project root with --path", path=str(path))
    project = path.resolve()
    checks = run_checks(project, Path.home(), database_url or os.environ.get("DATABASE_URL"), timeout)
    if fmt == "json":
        click.echo(json.dumps({"version": __version__, "project": str(project),
                               "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        click.echo(render_text(checks, project, color=sys.stdout.isatty()), nl=False)
    sys.exit(1 if any(c.status == FAIL for c in checks) else 0)
