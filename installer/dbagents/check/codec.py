"""Data-only encoding of the engine's facts for the result cache: JSON values, every container tagged.

An encoded value is a JSON scalar (str, int, float, bool, null) or an array whose first item is a tag:
`["L", ...]` list, `["T", ...]` tuple, `["D", k, v, k, v, ...]` dict (any hashable keys), `["S", ...]` set,
`["F", ...]` frozenset, `["B", hex]` bytes, `["C", re, im]` complex, `["E"]` Ellipsis, `["U"]` the model
extractor's UNKNOWN, and `[Name, field, field, ...]` one of the engine's own dataclasses or enums,
positional in field order. Decoding can only build what `_allowed()` lists, by that registered name: no
name found in a file is ever imported or called, so a cache file is data and nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from functools import lru_cache
from typing import Any, Callable


class CacheError(Exception):
    """A value that cannot be stored, or a stored value that is not what this codec writes."""


@lru_cache(maxsize=1)
def _allowed() -> tuple[type, ...]:
    """Every class a cache file may hold besides builtins: the per-file facts of the extractors."""
    from dbagents.check.facts import _alembic_model as alembic
    from dbagents.check.facts import _model_extract as models
    from dbagents.check.facts import dburls, orm_loops, sql
    from dbagents.findings import Finding, Severity

    return (
        Finding, Severity,
        models.ModelFileFacts, models.ClassFacts, models.ColumnFacts, models.RelFacts, models.AnnInfo,
        models.TypeRef, models.FKRef, models.RefFacts, models.ConstraintFacts, models.TableFacts,
        models.AssignFacts, models.MetaDataCall, models.LegacyUse,
        alembic.AlembicFileFacts, alembic.Revision, alembic.EnvScript, alembic.AlembicConfigFile,
        alembic.IniSection, alembic.Op, alembic.Call, alembic.Ref, alembic.Expr, alembic.SqlAction,
        sql.SqlFacts, sql.SqlSink, sql.StringExecute,
        orm_loops.LoopFacts, orm_loops.RowLoop, orm_loops.StmtInfo, orm_loops.Access,
        dburls.UrlFacts, dburls.DbUrl, dburls.EchoSetting,
    )


_BUILTIN_TAGS = frozenset("LTDSFBCEU")


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[type, tuple[str, Callable]], dict[str, Callable]]:
    """(class -> (name, encoder), tag -> decoder), built once from the allow-list."""
    from dbagents.check.facts._model_extract import UNKNOWN

    encoders: dict[type, tuple[str, Callable]] = {}
    decoders: dict[str, Callable] = {
        "L": _items,
        "T": lambda v: tuple(_items(v)),
        "S": lambda v: set(_items(v)),
        "F": lambda v: frozenset(_items(v)),
        "D": _decode_dict,
        "B": lambda v: bytes.fromhex(v[1]) if len(v) == 2 else _bad("bytes"),
        "C": lambda v: complex(v[1], v[2]) if len(v) == 3 else _bad("complex"),
        "E": lambda v: ...,
        "U": lambda v: UNKNOWN,
    }
    for cls in _allowed():
        name = cls.__name__
        if name in decoders or name in _BUILTIN_TAGS:
            raise RuntimeError(f"two cached classes named {name}")  # a programming error, found by the tests
        if issubclass(cls, enum.Enum):
            decoders[name] = _enum_decoder(cls)
        else:
            decoders[name] = _dataclass_decoder(cls)
        encoders[cls] = (name, _enum_encoder if issubclass(cls, enum.Enum) else _dataclass_encoder(cls))
    return encoders, decoders


@lru_cache(maxsize=1)
def schema() -> str:
    """A hash of every registered name with its fields (or members): part of the engine fingerprint, so a
    changed dataclass never meets values written for its old shape."""
    h = hashlib.blake2b(digest_size=12)
    for cls in _allowed():
        if issubclass(cls, enum.Enum):
            shape = ",".join(f"{m.name}={m.value!r}" for m in cls)
        else:
            shape = ",".join(f.name for f in dataclasses.fields(cls))
        h.update(f"{cls.__module__}.{cls.__qualname__}({shape})\n".encode())
    return h.hexdigest()


def _bad(what: str):
    raise CacheError(f"malformed {what}")


def _dataclass_encoder(cls: type) -> Callable:
    names = tuple(f.name for f in dataclasses.fields(cls))

    def fields_of(value):
        return [encode(getattr(value, n)) for n in names]

    return fields_of


def _enum_encoder(value: enum.Enum) -> list:
    return [encode(value.value)]


def _dataclass_decoder(cls: type) -> Callable:
    names = tuple(f.name for f in dataclasses.fields(cls))
    size = len(names) + 1
    new = object.__new__

    def build(v):
        if len(v) != size:
            raise CacheError(f"{cls.__name__} needs {size - 1} fields, got {len(v) - 1}")
        obj = new(cls)  # the stored state is what __init__ (and __post_init__) produced when it was encoded
        obj.__dict__.update(zip(names, _items(v)))
        return obj

    return build


def _enum_decoder(cls: type) -> Callable:
    def member(v):
        if len(v) != 2:
            raise CacheError(f"malformed {cls.__name__}")
        try:
            return cls(v[1])
        except ValueError:
            raise CacheError(f"no {cls.__name__} {v[1]!r}") from None

    return member


def _decode_dict(v: list) -> dict:
    if len(v) % 2 != 1:
        raise CacheError("malformed dict")
    items = iter(_items(v))
    return dict(zip(items, items))


def _items(v: list) -> list:
    """v[1:] decoded; a JSON scalar stands for itself (decoded in line: most items are scalars)."""
    return [decode(x) if x.__class__ is list or x.__class__ is dict else x for x in v[1:]]


def encode(value: Any) -> Any:
    """`value` as JSON-ready data; CacheError for anything the decoder could not rebuild."""
    cls = value.__class__
    if cls is str or cls is int or cls is bool or cls is float or value is None:
        return value
    if cls is list:
        return ["L", *map(encode, value)]
    if cls is tuple:
        return ["T", *map(encode, value)]
    if cls is dict:
        out = ["D"]
        for k, v in value.items():
            out.append(encode(k))
            out.append(encode(v))
        return out
    if cls is set:
        return ["S", *map(encode, value)]
    if cls is frozenset:
        return ["F", *map(encode, value)]
    entry = _tables()[0].get(cls)
    if entry is not None:
        name, fields_of = entry
        return [name, *fields_of(value)]
    if cls is bytes:
        return ["B", value.hex()]
    if cls is complex:
        return ["C", value.real, value.imag]
    if value is ...:
        return ["E"]
    from dbagents.check.facts._model_extract import UNKNOWN

    if value is UNKNOWN:
        return ["U"]
    raise CacheError(f"cannot store a {cls.__module__}.{cls.__qualname__}")


def decode(value: Any) -> Any:
    """The value `encode` was given; CacheError for anything it does not write."""
    cls = value.__class__
    if cls is list:
        try:
            build = _DECODERS[value[0]]
        except (KeyError, IndexError, TypeError):
            build = _first_use(value)
        try:
            return build(value)
        except CacheError:
            raise
        except (TypeError, ValueError, IndexError, KeyError, RecursionError) as exc:
            raise CacheError(f"malformed value ({type(exc).__name__})") from None
    if cls is dict:
        raise CacheError("a JSON object where a tagged value belongs")
    return value


_DECODERS: dict[str, Callable] = {}  # filled on first use (the allow-list imports the fact modules)


def _first_use(value: list) -> Callable:
    if not _DECODERS:
        _DECODERS.update(_tables()[1])
    try:
        return _DECODERS[value[0]]
    except (KeyError, IndexError, TypeError):
        raise CacheError(f"unknown tag {str(value[:1])[:40]}") from None
