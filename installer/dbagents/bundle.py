"""Where the shipped bundle (agents, commands, context docs) lives, in a wheel or a checkout."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

COMPONENTS = ("agents", "commands", "context")


@dataclass(frozen=True)
class BundleFile:
    component: str  # agents | commands | context
    relpath: str  # POSIX path relative to the .claude folder, e.g. "agents/db-expert.md"
    source: Path


def bundle_root() -> Path:
    """The folder holding agents/, commands/ and context/.

    In an installed wheel it is ``dbagents/_bundle`` (hatch force-include); in a checkout or an editable
    install it is the repository's ``.claude`` folder.
    """
    packaged = Path(str(resources.files("dbagents"))) / "_bundle"
    if (packaged / "agents").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / ".claude"
    if (checkout / "agents").is_dir():
        return checkout
    raise FileNotFoundError("the dbagents bundle is missing from this installation; reinstall dbagents")


def bundle_files(only: tuple[str, ...] = COMPONENTS) -> list[BundleFile]:
    """Every file of the bundle, sorted, limited to the components in `only`."""
    root = bundle_root()
    files = []
    for component in COMPONENTS:
        if component not in only:
            continue
        base = root / component
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                files.append(BundleFile(component, path.relative_to(root).as_posix(), path))
    return files
