"""Read alembic.ini (every section with a script_location) and pyproject.toml [tool.alembic]."""

from __future__ import annotations

import configparser
import re

from dbagents.check.facts._alembic_model import AlembicConfigFile, IniSection

_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_TRUE = {"1", "true", "yes", "on"}


def _section_lines(text: str) -> dict[str, int]:
    lines = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = _SECTION.match(line)
        if m:
            lines.setdefault(m.group(1).strip(), number)
    return lines


def _strip_comment(value: str) -> str:
    # alembic.ini templates write `version_path_separator = os  # Use os.pathsep.`
    return re.split(r"\s+[#;]", value, maxsplit=1)[0].strip()


def split_locations(value: str, separator: str | None) -> list[str]:
    """version_locations as a list, honouring path_separator / version_path_separator."""
    sep = (separator or "").strip().lower()
    if sep in ("", "space"):
        parts = re.split(r"[\s,]+", value)
    elif sep == "newline":
        parts = value.splitlines()
    elif sep == "colon":
        parts = value.split(":")
    elif sep == "semicolon":
        parts = value.split(";")
    elif sep == "os":  # os.pathsep; ';' on Windows, ':' elsewhere — accept both, keep `pkg:path` intact below
        parts = re.split(r"[\s,;]+", value)
    else:
        parts = re.split(r"[\s,]+", value)
    return [p.strip() for p in parts if p.strip()]


def parse_ini(text: str, relpath: str) -> AlembicConfigFile | None:
    parser = configparser.RawConfigParser(strict=False, inline_comment_prefixes=None)
    try:
        parser.read_string(text, source=relpath)
    except configparser.Error:
        return None
    lines = _section_lines(text)
    config = AlembicConfigFile(relpath)
    for name in parser.sections():
        section = parser[name]
        script = section.get("script_location")
        if script is None and name != "alembic":
            continue
        sep = section.get("path_separator") or section.get("version_path_separator")
        config.sections.append(
            IniSection(
                name=name,
                line=lines.get(name, 1),
                script_location=_strip_comment(script) if script else None,
                version_locations=split_locations(_strip_comment(section.get("version_locations", "")),
                                                  _strip_comment(sep) if sep else None),
                recursive=_strip_comment(section.get("recursive_version_locations", "")).lower() in _TRUE,
                url=_strip_comment(section.get("sqlalchemy.url", "")) or None,
            )
        )
    low = text.lower()
    if "lock_timeout" in low or "statement_timeout" in low:
        for number, line in enumerate(text.splitlines(), start=1):
            if "lock_timeout" in line.lower() or "statement_timeout" in line.lower():
                config.timeout_line = number
                break
    if not config.sections:
        return None
    return config


def parse_pyproject(text: str, relpath: str) -> AlembicConfigFile | None:
    """[tool.alembic] of a pyproject.toml (Alembic >= 1.16)."""
    if "[tool.alembic" not in text:
        return None
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            return None
    try:
        data = tomllib.loads(text)
    except Exception:
        return None
    table = data.get("tool", {}).get("alembic")
    if not isinstance(table, dict):
        return None
    line = next((n for n, l in enumerate(text.splitlines(), 1) if l.strip().startswith("[tool.alembic")), 1)
    locations = table.get("version_locations") or []
    if isinstance(locations, str):
        locations = split_locations(locations, table.get("path_separator"))
    script = table.get("script_location")
    return AlembicConfigFile(
        relpath,
        [IniSection("tool.alembic", line, script if isinstance(script, str) else None,
                    [str(x) for x in locations if isinstance(x, str)],
                    bool(table.get("recursive_version_locations", False)))],
    )
