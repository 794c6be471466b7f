"""One read-only PostgreSQL session for the live checks, and URL masking for everything we print."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dbagents.errors import InputError
from dbagents.live.settings import LiveSettings

_DSN_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_MASK = "***"


def mask_url(url: str) -> str:
    """`url` with any password replaced by ***: URI userinfo, ?password= and key=value DSNs."""
    if not url:
        return url
    if "://" not in url:
        return _DSN_PASSWORD.sub(lambda m: m.group(1) + _MASK, url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//([^:/@]*):[^@]*@", rf"//\1:{_MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{_MASK}@{hostinfo}"
    query = parts.query
    if query and "password" in query.lower():
        pairs = [(k, _MASK if k.lower() == "password" else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="/*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _password_of(url: str) -> str:
    try:
        from psycopg.conninfo import conninfo_to_dict

        return str(conninfo_to_dict(url).get("password") or "")
    except Exception:  # noqa: BLE001 - an unparsable URL has no password we can find
        return ""


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from an arbitrary message (server errors may echo parts of a DSN)."""
    secret = _password_of(url)
    if secret:
        text = text.replace(secret, _MASK)
    return text.replace(url, mask_url(url))


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+psycopg://, postgres://) and return what libpq understands."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url.strip())


def describe_target(url: str) -> str:
    """'host H, port P, database D' for error lines, without secrets."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001
        return f"URL {mask_url(url)}"
    host = info.get("host") or info.get("hostaddr") or "localhost (default socket)"
    port = info.get("port") or "5432"
    db = info.get("dbname") or info.get("user") or "(default)"
    return f"host {host}, port {port}, database {db}"


def _one_line(exc: BaseException, url: str) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    text = re.sub(r"^connection failed:\s*", "", text)
    return scrub(text or type(exc).__name__, url)


def import_psycopg():
    try:
        import psycopg
    except ImportError:
        raise InputError("live checks need psycopg 3: pip install 'dbagents[postgres]'") from None
    return psycopg


def connect(url: str, settings: LiveSettings, *, application_name: str = "dbagents"):
    """Open one connection (autocommit off) or raise InputError with host, port, database and reason."""
    psycopg = import_psycopg()
    target = libpq_url(url)
    try:
        conn = psycopg.connect(
            target,
            application_name=application_name,
            connect_timeout=settings.connect_timeout_s,
            autocommit=False,
        )
    except psycopg.ProgrammingError as exc:  # malformed conninfo
        raise InputError(f"invalid database URL {mask_url(url)}: {_one_line(exc, target)}") from None
    except psycopg.Error as exc:
        raise InputError(
            f"cannot connect to PostgreSQL at {describe_target(target)}: {_one_line(exc, target)}"
        ) from None
    return conn


@contextmanager
def readonly_session(url: str, settings: LiveSettings | None = None) -> Iterator:
    """A connection inside `BEGIN READ ONLY` with statement_timeout and lock_timeout set; always rolled back."""
    settings = settings or LiveSettings()
    conn = connect(url, settings)
    try:
        conn.read_only = True  # psycopg starts every transaction with BEGIN READ ONLY
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
            " set_config('idle_in_transaction_session_timeout', %s, true)",
            (f"{settings.statement_timeout_ms}ms", f"{settings.lock_timeout_ms}ms",
             f"{max(settings.statement_timeout_ms * 4, 60000)}ms"),
        )
        yield conn
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()
