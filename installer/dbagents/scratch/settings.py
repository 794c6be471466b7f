"""[tool.dbagents.scratch]: validated settings, and the project's own variables templated with the scratch URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from urllib.parse import parse_qs, unquote, urlsplit

from dbagents.errors import InputError

SECTION = "[tool.dbagents.scratch]"
# {name} in an `env` value -> a part of the scratch database's address.
PLACEHOLDERS = {
    "url": "SQLAlchemy URL with the driver dbagents picked (postgresql+psycopg2://…)",
    "libpq_url": "the same URL without a driver (postgresql://…), for psycopg, asyncpg or libpq",
    "host": "host name or address",
    "port": "port number",
    "user": "user name",
    "password": "password (empty for the throwaway server)",
    "database": "database name",
    "driver": "the SQLAlchemy driver name (psycopg2, psycopg, asyncpg, pg8000)",
}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ScratchSettings:
    """Which server, which interpreter runs the project's code, which Alembic config, how long it may take."""

    server: str = "auto"  # auto | pgserver | local
    python: str = ""  # interpreter for env.py/migrations; default: detected (virtualenv, .venv, this one)
    timeout_s: int = 900  # per phase (upgrade walk, downgrade walk)
    alembic_ini: str = ""  # default: ./alembic.ini, else the one alembic.ini one or two folders down
    alembic_name: str = ""  # ini section (Alembic's --name); default "alembic"
    app: str = ""  # "module:create_app" for env.py files that need a Flask app context
    env: tuple[tuple[str, str], ...] = ()  # the project's own variables, templated with the scratch URL

    @classmethod
    def from_mapping(cls, values: dict | None, source: str = "pyproject.toml") -> "ScratchSettings":
        values = dict(values or {})
        values.pop("live", None)
        known = {f.name for f in fields(cls)}
        kwargs: dict = {}
        for raw, value in values.items():
            key = str(raw).replace("-", "_")
            if key not in known:
                raise InputError(f"unknown key {raw!r} in {SECTION}; known keys: {', '.join(sorted(known | {'live'}))}",
                                 path=source)
            if key == "timeout_s":
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise InputError(f"{SECTION} {raw} must be a positive integer, got {value!r}", path=source)
            elif key == "env":
                value = _env_templates(value, source)
            elif not isinstance(value, str):
                raise InputError(f"{SECTION} {raw} must be a string, got {value!r}", path=source)
            elif key == "app" and value and not re.match(r"^[\w.]+:\w+$", value):
                raise InputError(f"{SECTION} app must be \"module:attribute\" (e.g. \"myapp:create_app\"), "
                                 f"got {value!r}", path=source)
            kwargs[key] = value
        return cls(**kwargs)


def _env_templates(value, source: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise InputError(f"{SECTION} env must be a table of VARIABLE = \"value\", e.g. "
                         "env = {DATABASE_URL = \"{url}\"}", path=source)
    pairs = []
    for name, template in value.items():
        where = f"{SECTION} env.{name}"
        if not ENV_NAME.match(str(name)):
            raise InputError(f"{where}: not an environment variable name", path=source)
        if isinstance(template, bool) or not isinstance(template, (str, int)):
            raise InputError(f"{where} must be a string, got {template!r}", path=source)
        template = str(template)
        for placeholder in PLACEHOLDER.findall(template):
            if placeholder not in PLACEHOLDERS:
                raise InputError(f"{where}: unknown placeholder {{{placeholder}}}; use "
                                 + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS), path=source)
        pairs.append((str(name), template))
    return tuple(pairs)


def split_settings(settings: dict | None, source: str = "pyproject.toml") -> tuple[ScratchSettings, dict]:
    """Scratch keys, and live keys (nested under "live" or mixed in at the top level), validated."""
    from dbagents.live.settings import LiveSettings

    settings = dict(settings or {})
    live = dict(settings.pop("live", None) or {})
    live_keys = {f.name for f in fields(LiveSettings)}
    for key in list(settings):
        if str(key).replace("-", "_") in live_keys:
            live[key] = settings.pop(key)
    LiveSettings.from_mapping(live)  # fail early, before a server starts
    return ScratchSettings.from_mapping(settings, source), live


def url_parts(sa_url: str, libpq: str, driver: str) -> dict[str, str]:
    """The values of the placeholders for one scratch database."""
    parts = urlsplit(libpq)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "url": sa_url,
        "libpq_url": libpq,
        "host": parts.hostname or query.get("host", ""),
        "port": str(parts.port or query.get("port", "5432")),
        "user": unquote(parts.username or query.get("user", "")),
        "password": unquote(parts.password or query.get("password", "")),
        "database": unquote(parts.path.lstrip("/")) or query.get("dbname", ""),
        "driver": driver,
    }


def render_env(templates: tuple[tuple[str, str], ...], parts: dict[str, str]) -> dict[str, str]:
    return {name: PLACEHOLDER.sub(lambda m: parts[m.group(1)], template) for name, template in templates}
