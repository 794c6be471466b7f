"""Settings of the live checks: keyword arguments or [tool.dbagents.live], validated in one place."""

from __future__ import annotations

from dataclasses import dataclass, fields

from dbagents.errors import InputError


@dataclass(frozen=True)
class LiveSettings:
    """Thresholds and safety limits; every field can be set in [tool.dbagents.live]."""

    statement_timeout_ms: int = 5000  # per catalog query; the session is cancelled past this
    lock_timeout_ms: int = 1000  # never queue behind a migration's lock for longer than this
    connect_timeout_s: int = 10
    sequence_threshold: float = 0.8  # DBA306: fraction of the usable range a sequence/key may use
    unused_index_min_size: int = 1_048_576  # DBA304: bytes; smaller unused indexes are not worth a finding
    unused_index_max_scans: int = 0  # DBA304: an index with at most this many scans is "unused"
    seqscan_min_rows: int = 10_000  # DBA309: tables smaller than this are fine to scan
    seqscan_min_scans: int = 50  # DBA309: sequential scans needed before a table is "seq-scan heavy"
    version_table: str = "alembic_version"  # DBA310: Alembic's version table name (env.py version_table=)

    @classmethod
    def from_mapping(cls, values: dict | None, *, source: str = "[tool.dbagents.live]") -> "LiveSettings":
        """Build settings from a dict (keys may use - or _); unknown keys or bad values raise InputError."""
        if not values:
            return cls()
        if isinstance(values, LiveSettings):
            return values
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for raw_key, value in values.items():
            key = str(raw_key).replace("-", "_")
            if key not in known:
                names = ", ".join(sorted(known))
                raise InputError(f"unknown key {raw_key!r} in {source}; known keys: {names}")
            expected = known[key].type
            if expected == "str":
                if not isinstance(value, str) or not value.strip():
                    raise InputError(f"{source} {raw_key} must be a non-empty string, got {value!r}")
                kwargs[key] = value.strip()
            elif expected == "float":
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < float(value) <= 1
                if not ok:
                    raise InputError(f"{source} {raw_key} must be a fraction between 0 and 1, got {value!r}")
                kwargs[key] = float(value)
            else:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InputError(f"{source} {raw_key} must be a non-negative integer, got {value!r}")
                kwargs[key] = value
        settings = cls(**kwargs)
        if settings.statement_timeout_ms == 0:
            raise InputError(f"{source} statement_timeout_ms must be > 0 (0 would disable the timeout)")
        return settings
