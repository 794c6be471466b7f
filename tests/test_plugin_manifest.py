"""The Claude Code plugin form: manifests, the real `claude plugin validate --strict`, and a real install whose
context-doc references resolve inside Claude Code's plugin cache."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dbagents import __version__

REPO = Path(__file__).resolve().parents[1]
PLUGIN_JSON = REPO / ".claude-plugin" / "plugin.json"
MARKETPLACE_JSON = REPO / ".claude-plugin" / "marketplace.json"
PLACEHOLDER = re.compile(r"\$\{CLAUDE_PLUGIN_ROOT\}(/[\w./-]+)")


def manifest() -> dict:
    return json.loads(PLUGIN_JSON.read_text(encoding="utf-8"))


def test_plugin_json_fields_and_version():
    data = manifest()
    assert data["name"] == "dbagents"
    assert data["version"] == __version__
    assert isinstance(data["author"], dict) and data["author"]["name"]
    assert len(data["description"]) > 40


def test_plugin_json_lists_exactly_the_bundle_agents_and_commands():
    data = manifest()
    for key in ("agents", "commands"):
        for path in data[key]:
            assert path.startswith("./") and ".." not in path and path.endswith(".md")
            assert (REPO / path).is_file(), path
    assert sorted(data["agents"]) == sorted(f"./{p.relative_to(REPO).as_posix()}" for p in (REPO / ".claude/agents").glob("*.md"))
    assert sorted(data["commands"]) == sorted(f"./{p.relative_to(REPO).as_posix()}" for p in (REPO / ".claude/commands").glob("*.md"))


def test_marketplace_offers_this_repository_as_the_plugin():
    data = json.loads(MARKETPLACE_JSON.read_text(encoding="utf-8"))
    assert data["name"] == "dbagents" and data["owner"]["name"]
    (entry,) = data["plugins"]
    assert entry["name"] == "dbagents" and entry["source"] == "./"
    assert entry["version"] == __version__


def test_plugin_hooks_file_runs_the_same_hook_as_install_with_hooks():
    from dbagents.install.hooks import EVENT, HOOK_GROUP

    data = json.loads((REPO / "hooks" / "hooks.json").read_text(encoding="utf-8"))
    assert data["hooks"] == {EVENT: [HOOK_GROUP]}
    assert "hooks" not in manifest()  # hooks/hooks.json loads by default; naming it again is a duplicate
    assert '"hooks"' in (REPO / "pyproject.toml").read_text().split("[tool.hatch.build.targets.sdist]")[1]


def claude_cli() -> str | None:
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "claude"
    if local.exists():
        return str(local)
    return shutil.which("claude")


@pytest.fixture(scope="module")
def claude():
    path = claude_cli()
    if path is None:
        pytest.skip("Claude Code CLI not found: run `npm install @anthropic-ai/claude-code` in .ci/node (CI does)")
    return path


def run_claude(claude: str, home: Path, *args, cwd: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(HOME=str(home), DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    return subprocess.run([claude, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_claude_plugin_validate_strict_passes_without_warnings(claude, tmp_path):
    for target in (".", ".claude-plugin/plugin.json"):
        result = run_claude(claude, tmp_path / "home", "plugin", "validate", "--strict", target, cwd=REPO)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        assert "Validation passed" in out and "warning" not in out.lower(), out


def plugin_source(tmp_path: Path) -> Path:
    """What a user clones: the manifests and the bundle (the rest of the repo does not matter to Claude Code)."""
    root = tmp_path / "dbagents-repo"
    shutil.copytree(REPO / ".claude-plugin", root / ".claude-plugin")
    for part in ("agents", "commands", "context"):
        shutil.copytree(REPO / ".claude" / part, root / ".claude" / part)
    shutil.copytree(REPO / "hooks", root / "hooks")
    shutil.copy(REPO / "README.md", root / "README.md")
    return root


@pytest.mark.slow
def test_real_install_resolves_every_reference_inside_the_plugin_cache(claude, tmp_path):
    home = tmp_path / "home"
    source = plugin_source(tmp_path)
    project = tmp_path / "user-project"  # a project with no .claude folder at all
    project.mkdir()
    added = run_claude(claude, home, "plugin", "marketplace", "add", str(source), cwd=project)
    assert added.returncode == 0, added.stdout + added.stderr
    installed = run_claude(claude, home, "plugin", "install", "dbagents@dbagents", cwd=project)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    record = json.loads((home / ".claude" / "plugins" / "installed_plugins.json").read_text())
    (entry,) = record["plugins"]["dbagents@dbagents"]
    cache = Path(entry["installPath"])
    assert entry["version"] == __version__
    assert cache.is_dir() and home in cache.parents and source not in cache.parents

    data = json.loads((cache / ".claude-plugin" / "plugin.json").read_text())
    files = [cache / p for p in data["agents"] + data["commands"]]
    assert all(f.is_file() for f in files)

    checked = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        # Claude Code substitutes ${CLAUDE_PLUGIN_ROOT} in plugin agent and command bodies with the install path
        expanded = text.replace("${CLAUDE_PLUGIN_ROOT}", str(cache))
        for rel in PLACEHOLDER.findall(text):
            target = cache / rel.lstrip("/").rstrip(".")
            assert target.is_file(), f"{path.name}: {rel} does not resolve in the plugin cache"
            assert str(target) in expanded
            checked += 1
        # every project-relative context path the file names has its plugin-root twin
        for rel in set(re.findall(r"(?<![}/\w])\.claude/context/database/[\w.-]+\.mdc", text)):
            assert f"${{CLAUDE_PLUGIN_ROOT}}/{rel}" in text, f"{path.name}: {rel} has no plugin-form reference"
    assert checked >= 2 * len(files)
    # and the project itself has none of these files: only the plugin-root references can work there
    assert not (project / ".claude").exists()
