"""The JSON Schemas shipped in `schemas/`, applied with jsonschema; errors become short messages per key."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

SCHEMA_FILES = ("agent", "command", "skill", "hooks", "hooks-file", "plugin", "marketplace")


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    return json.loads(resources.files("dbagents.validate").joinpath("schemas", f"{name}.json").read_text("utf-8"))


@lru_cache(maxsize=None)
def validator(name: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (load_schema(n)["$id"], Resource.from_contents(load_schema(n))) for n in SCHEMA_FILES
    )
    return Draft202012Validator(load_schema(name), registry=registry)


def known_keys(name: str) -> frozenset:
    return frozenset(load_schema(name).get("properties", {}))


def _expected(error) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "description" in schema:
        return schema["description"]
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    if "const" in schema:
        return repr(schema["const"])
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return " or ".join(kinds)
    return error.message


def _short(value) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_errors(name: str, data) -> list[tuple[tuple, str]]:
    """[(path tuple, message)] for each place the data breaks the schema (one message per path)."""
    out: dict[tuple, str] = {}
    for error in validator(name).iter_errors(data):
        path = tuple(error.absolute_path)
        if error.validator == "required":
            out.setdefault(path, error.message.replace("'", "`"))
            continue
        if error.validator == "propertyNames":
            out.setdefault(path + (error.instance,), f"`{error.instance}` is not a valid key here")
            continue
        where = ".".join(str(p) for p in path) or "(document)"
        out.setdefault(path, f"`{where}: {_short(error.instance)}` is not valid: expected {_expected(error)}")
    return sorted(out.items(), key=lambda item: [str(p) for p in item[0]])
