"""SARIF 2.1.0 for GitHub code scanning and other consumers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

from dbagents import __version__
from dbagents.findings import Finding, RuleInfo, Severity

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFO_URI = "https://github.com/dbagents/dbagents"


def _rule_descriptor(info: RuleInfo) -> dict:
    desc = {
        "id": info.id,
        "name": info.name,
        "shortDescription": {"text": info.summary or info.name},
        "fullDescription": {"text": info.summary or info.name},
        "defaultConfiguration": {"level": info.severity.sarif_level},
        "help": {"text": info.help or info.summary or info.name, "markdown": info.help or info.summary or info.name},
        "properties": {"tags": [info.id[:3].lower()]},
    }
    desc["helpUri"] = info.help_uri or f"{INFO_URI}#{info.id.lower()}"
    return desc


def _fingerprint(f: Finding) -> str:
    key = f"{f.rule_id}|{f.path}|{f.obj}|{f.message}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _artifact(path: str) -> dict:
    """Relative paths hang off %SRCROOT% (the repository root); a file outside it gets its absolute URI."""
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def render_sarif(findings: list[Finding], rules: Mapping[str, RuleInfo], *, root: str, tool_name: str) -> str:
    # Every selected rule gets a descriptor (code scanning shows their help); ids that fired
    # but have no metadata get a minimal one.
    used = sorted(set(rules) | {f.rule_id for f in findings})
    descriptors = []
    index = {}
    for rid in used:
        info = rules.get(rid) or RuleInfo(rid, rid.lower(), rid, Severity.WARNING)
        index[rid] = len(descriptors)
        descriptors.append(_rule_descriptor(info))
    results = []
    for f in findings:
        result = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": f.severity.sarif_level,
            "message": {"text": f.message + (f" Hint: {f.hint}" if f.hint else "")},
            "partialFingerprints": {"dbagentsFinding/v1": _fingerprint(f)},
        }
        location: dict = {}
        if f.path:
            phys: dict = {"artifactLocation": _artifact(f.path)}
            if f.line:
                phys["region"] = {"startLine": f.line, "startColumn": max(f.col, 1)}
            location["physicalLocation"] = phys
        if f.obj:
            location["logicalLocations"] = [{"fullyQualifiedName": f.obj, "kind": "member"}]
        if location:
            result["locations"] = [location]
        results.append(result)
    root_uri = Path(root).resolve().as_uri().rstrip("/") + "/"
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool_name,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFO_URI,
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
