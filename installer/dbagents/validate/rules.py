"""The validator's rule catalogue: ids CC001…, each with a name, a summary and What/Why/Fix help."""

from __future__ import annotations

from dbagents.findings import RuleInfo, Severity

E, W = Severity.ERROR, Severity.WARNING
DOCS = "https://code.claude.com/docs/en/"


def _rule(rid: str, name: str, severity: Severity, summary: str, what: str, why: str, fix: str, doc: str) -> RuleInfo:
    help_text = f"**What:** {what}\n\n**Why:** {why}\n\n**Fix:** {fix}"
    return RuleInfo(rid, name, summary, severity, help_text, DOCS + doc)


_ALL = [
    # --- the file and its frontmatter -------------------------------------------------------------
    _rule("CC001", "missing-frontmatter", E, "Agent file has no frontmatter block (or it is never closed).",
          "The file does not start with a `---` line followed by YAML and a closing `---`.",
          "Claude Code only reads agents whose file begins with frontmatter; without it the agent is skipped "
          "without a message.",
          "Start the file with `---`, then `name:` and `description:`, then a closing `---` line.", "sub-agents"),
    _rule("CC002", "bom-hides-frontmatter", E, "A UTF-8 byte-order mark before `---` hides the frontmatter.",
          "The file starts with the invisible character U+FEFF before its `---` line.",
          "Claude Code matches `---` at the very first character, so the BOM makes the whole frontmatter part of "
          "the prompt and every field is dropped (an agent is ignored).",
          "Save the file as UTF-8 without BOM.", "sub-agents"),
    _rule("CC003", "frontmatter-not-first", E, "The frontmatter does not start on the first line.",
          "Blank lines or other text come before the opening `---`.",
          "Claude Code only recognises frontmatter at the very start of the file; otherwise every field is dropped.",
          "Move the `---` block to line 1.", "sub-agents"),
    _rule("CC004", "yaml-repaired", W, "YAML fails to parse strictly; only Claude Code's quoting repair loads it.",
          "A value contains characters YAML treats specially (`: `, `*`, `[`, `#`, `@`, `|`, …) or tabs indent it.",
          "Claude Code retries with such values wrapped in double quotes, so the file works, but other tools "
          "(and future versions) read it as broken YAML.",
          "Quote the value as the finding shows, e.g. `description: \"Use when: x\"`.", "sub-agents"),
    _rule("CC005", "yaml-invalid", E, "YAML frontmatter is broken beyond Claude Code's repair: all fields are dropped.",
          "The frontmatter is not valid YAML even after Claude Code quotes special values and replaces tabs.",
          "Claude Code logs the parse error and uses an empty frontmatter: the agent has no name and is skipped, "
          "a command loses its description and allowed-tools.",
          "Fix the YAML at the line and column given (quote values, fix indentation).", "sub-agents"),
    _rule("CC006", "frontmatter-not-mapping", E, "Frontmatter is YAML but not a mapping of keys to values.",
          "The block parses to a list, a string or nothing instead of `key: value` pairs.",
          "Claude Code replaces anything that is not a mapping with `{}`, so every field is dropped.",
          "Write one `key: value` pair per line.", "sub-agents"),
    _rule("CC007", "file-too-large", E, "File is larger than 1 MiB; Claude Code skips it.",
          "The agent, command or skill file exceeds 1,048,576 bytes.",
          "Claude Code does not read files over 1 MiB; the validator refuses them too, to stay fast.",
          "Move bulky reference material into separate files the prompt points to.", "sub-agents"),
    _rule("CC008", "yaml-alias-bomb", E, "Frontmatter uses YAML anchors/aliases that expand to a huge document.",
          "Anchors (`&a`) and aliases (`*a`) nest so the expanded data explodes (a 'billion laughs' document).",
          "Parsing it would hang or exhaust memory in any tool that expands it; the validator refuses it.",
          "Remove the anchors and aliases; frontmatter never needs them.", "sub-agents"),
    _rule("CC009", "unreadable-file", E, "File cannot be read as UTF-8 text.",
          "Reading the file failed or it contains bytes that are not UTF-8.",
          "Claude Code reads files as UTF-8; invalid bytes become replacement characters or the file is skipped.",
          "Re-save the file as UTF-8 and check its permissions.", "sub-agents"),
    _rule("CC017", "frontmatter-closed-early", E, "A `---` inside a value ends the frontmatter early.",
          "Claude Code ends the frontmatter at the first `---` anywhere, even in the middle of a line.",
          "Everything after that point (the rest of the YAML) becomes part of the prompt and those fields are lost.",
          "Avoid `---` inside frontmatter values (write an em dash or `--`).", "sub-agents"),
    # --- fields ------------------------------------------------------------------------------------
    _rule("CC010", "missing-name", E, "Agent has no `name`; Claude Code skips it silently.",
          "The frontmatter of an agent has no `name` field (or it is empty).",
          "The name is how the Agent tool addresses the agent; without it the file is skipped with no message.",
          "Add `name: my-agent` (lowercase letters and hyphens).", "sub-agents"),
    _rule("CC011", "name-starts-with-dash", E, "Agent `name` starts with `-`; Claude Code rejects the agent.",
          "The `name` value begins with a hyphen.",
          "Claude Code refuses agent names that look like command-line options.",
          "Start the name with a letter or digit.", "sub-agents"),
    _rule("CC012", "name-style", W, "`name` has capitals, spaces or other characters the docs disallow.",
          "The name is not lowercase letters, digits and hyphens.",
          "Claude Code accepts it, but the documented format is lowercase-with-hyphens and other tools reject it.",
          "Rename to lowercase words joined by hyphens, e.g. `db-expert`.", "sub-agents"),
    _rule("CC013", "missing-description", E, "Agent has no non-empty `description`; Claude Code rejects it.",
          "The agent frontmatter has no `description` string.",
          "The description is what the main agent reads to decide when to delegate; without it the agent is rejected.",
          "Add `description:` saying when to use the agent.", "sub-agents"),
    _rule("CC014", "invalid-model", E, "`model` is not an alias, an `[1m]` variant or a full Claude model id.",
          "The value is not one of inherit, sonnet, opus, haiku, fable, best, opusplan (optionally with `[1m]`) "
          "or a `claude-…` model id.",
          "An unknown model cannot be resolved; the agent fails or falls back to another model at run time.",
          "Use an alias such as `sonnet` or `inherit`, or a full id such as `claude-sonnet-4-5`.", "sub-agents"),
    _rule("CC015", "invalid-field-value", E, "A field has a type or value Claude Code does not accept; it is dropped.",
          "A known field (permissionMode, color, effort, maxTurns, memory, isolation, background, shell, "
          "disable-model-invocation, tools, hooks, …) holds a value outside its documented type or values.",
          "Claude Code drops invalid values (sometimes logging, often silently), so the setting does nothing.",
          "Use one of the values listed in the message.", "sub-agents"),
    _rule("CC016", "unknown-key", W, "Unknown frontmatter key; Claude Code ignores it.",
          "The key is not a field Claude Code reads for this kind of file (often a typo or another tool's key).",
          "Unknown keys are ignored silently, so a misspelled field has no effect.",
          "Fix the spelling (the message suggests the closest known key) or remove it.", "sub-agents"),
    _rule("CC018", "argument-hint-not-string", W, "`argument-hint` parsed as a list; it is shown without brackets.",
          "An unquoted `argument-hint: [file]` is a YAML list.",
          "Claude Code turns the list into a string, so users see `file` instead of `[file]`.",
          "Quote it: `argument-hint: \"[file]\"`.", "slash-commands"),
    # --- tools --------------------------------------------------------------------------------------
    _rule("CC020", "unknown-tool", E, "Tool name is not a Claude Code tool; it is dropped silently.",
          "An entry in tools/disallowedTools/allowed-tools is not a current built-in tool (names are case-sensitive), "
          "`*`, or an MCP tool name.",
          "Claude Code drops unknown tool names without a message, so the agent lacks the tool you meant.",
          "Use the exact built-in name (the message suggests one) or `mcp__server__tool`.", "tools-reference"),
    _rule("CC021", "renamed-tool", W, "Tool has been renamed; the old name still works.",
          "The entry uses an old tool name such as Task, KillShell or BashOutput.",
          "Claude Code maps old names to new ones today, but the alias may go away.",
          "Use the new name given in the message.", "tools-reference"),
    _rule("CC022", "removed-tool", W, "Tool no longer exists; listing it does nothing.",
          "The entry names a removed tool (MultiEdit, LS, NotebookRead, SlashCommand, TodoRead).",
          "Claude Code ignores it; the agent does not get the capability you expected.",
          "Remove it (Edit replaces MultiEdit, Glob/Bash replace LS, Read reads notebooks, Skill runs commands).",
          "tools-reference"),
    _rule("CC023", "invalid-permission-rule", E, "Permission rule in `allowed-tools` has invalid syntax.",
          "A rule like `Bash(git add:*)` has unbalanced brackets, empty `()`, `:*` not at the end, `()` on an MCP "
          "tool, a URL in WebFetch, or a wildcard in the tool name.",
          "Claude Code cannot match a malformed rule, so the tool is not pre-approved.",
          "Write rules as `Tool` or `Tool(spec)`; see the permissions docs.", "permissions"),
    _rule("CC024", "mcp-server-not-configured", W, "Tool names an MCP server that is configured nowhere.",
          "`mcp__<server>__…` is listed but no .mcp.json, .claude/settings*.json, plugin or agent `mcpServers` "
          "defines that server.",
          "Without the server the tool never exists, so the agent silently lacks it.",
          "Add the server, e.g. `claude mcp add --scope project <server> -- <command>`, or fix the name.", "mcp"),
    _rule("CC025", "tool-not-for-subagents", W, "Tool is never given to subagents.",
          "An agent lists AskUserQuestion, EnterPlanMode, ExitPlanMode, ScheduleWakeup, WaitForMcpServers or "
          "TaskOutput.",
          "Claude Code removes these tools from every subagent, so listing them does nothing.",
          "Remove the tool from the agent's `tools`.", "sub-agents"),
    _rule("CC026", "tool-argument-ignored", W, "`Tool(arg)` in an agent's tools: the argument is ignored.",
          "An agent's `tools` lists something like `Bash(git:*)`.",
          "Only `Agent(a,b)` has an effect in `tools`; for other tools the part in brackets is ignored and the agent "
          "gets the whole tool.",
          "List the bare tool name and restrict it with permission rules in settings instead.", "sub-agents"),
    # --- consistency --------------------------------------------------------------------------------
    _rule("CC030", "accept-edits-without-edit-tools", W, "`permissionMode: acceptEdits` but the agent cannot edit.",
          "The agent's tools include none of Edit, Write, NotebookEdit.",
          "acceptEdits only auto-approves file edits, so the setting is pointless and hints at a missing tool.",
          "Add Edit/Write to `tools`, or drop `permissionMode`.", "sub-agents"),
    _rule("CC031", "plugin-agent-ignored-field", W, "Plugin agents ignore permissionMode, hooks and mcpServers.",
          "An agent inside a plugin sets permissionMode, hooks or mcpServers.",
          "Claude Code ignores these three fields for plugin agents (and `isolation: remote`).",
          "Remove the field, or move hooks/MCP servers to the plugin's hooks/hooks.json and .mcp.json.", "plugins"),
    _rule("CC032", "duplicate-agent-name", E, "Two agents in one scope share a `name`.",
          "Two agent files in the same folder tree (or plugin) declare the same `name`.",
          "Only one of them can be addressed; the other is shadowed silently.",
          "Give each agent a unique name.", "sub-agents"),
    _rule("CC033", "command-shadowed-by-skill", E, "A command has the same name as a skill; the skill wins.",
          "`commands/x.md` and `skills/x/SKILL.md` both exist.",
          "Claude Code loads the skill and drops the command.",
          "Rename or remove one of them.", "skills"),
    _rule("CC034", "skill-without-skill-md", E, "Skill folder has no `SKILL.md`; Claude Code skips it.",
          "A folder under `skills/` has no file named exactly `SKILL.md` (e.g. `skill.md` or `README.md` only).",
          "Skills are found only through `<folder>/SKILL.md`; the folder is skipped silently.",
          "Rename the main file to `SKILL.md`.", "skills"),
    # --- references ---------------------------------------------------------------------------------
    _rule("CC040", "missing-file-reference", E, "The body points to a file that does not exist.",
          "A `.claude/…`, `~/.claude/…`, `${CLAUDE_PLUGIN_ROOT}/…` or `@path` reference in the body names a missing "
          "file or folder.",
          "The agent will try to read it at run time and fail, losing the context it was written to use.",
          "Fix the path or add the file (for user-scope installs reference `~/.claude/…`).", "sub-agents"),
    _rule("CC041", "unknown-slash-command", W, "The body names a `/command` that does not exist.",
          "A `/name` mention is neither a command or skill in the validated set nor a built-in Claude Code command.",
          "Users or the model following the instruction get 'Unknown command'.",
          "Fix the name, or add the command to `.claude/commands/`.", "slash-commands"),
    # --- plugins ------------------------------------------------------------------------------------
    _rule("CC050", "invalid-json", E, "A plugin or settings JSON file does not parse.",
          "plugin.json, marketplace.json, .mcp.json, a hooks file or .claude/settings*.json is not valid JSON.",
          "Claude Code cannot load the plugin or marketplace.",
          "Fix the JSON at the line and column given.", "plugins-reference"),
    _rule("CC051", "invalid-plugin-manifest", E, "`.claude-plugin/plugin.json` does not match the manifest schema.",
          "A required field is missing or a field has the wrong type or form.",
          "Claude Code refuses to load a plugin whose manifest is invalid.",
          "Fix the field named in the message (see the plugin manifest reference).", "plugins-reference"),
    _rule("CC052", "invalid-marketplace", E, "`.claude-plugin/marketplace.json` does not match the schema.",
          "A required field is missing, a plugin entry is malformed or the marketplace name is reserved.",
          "`claude plugin marketplace add` rejects the marketplace.",
          "Fix the field named in the message.", "plugin-marketplaces"),
    _rule("CC053", "plugin-name-not-kebab", W, "Plugin or marketplace name is not kebab-case.",
          "The name has capitals or characters other than lowercase letters, digits and hyphens.",
          "Claude Code accepts it with a warning; names appear in `/plugin` and in `name@marketplace` ids.",
          "Rename to kebab-case, e.g. `db-agents`.", "plugins-reference"),
    _rule("CC055", "invalid-hooks", E, "A hooks file or the `hooks` of a settings file has a shape Claude Code rejects.",
          "In a plugin's `hooks/hooks.json` (or a hooks file plugin.json names), or under `hooks` in "
          "`.claude/settings.json` / `settings.local.json`: an unknown event name, an entry without its `hooks` list, "
          "a hook `type` other than command, prompt, agent, http or mcp_tool, a non-string `matcher`, a non-numeric "
          "`timeout`, or a command hook without a `command`.",
          "Claude Code validates hook configuration when it loads settings or a plugin: a malformed settings file "
          "is skipped with an error, a malformed plugin hooks file fails to load, and the hooks never run.",
          "Fix the entry named in the message: events such as `PostToolUse`, entries such as "
          "`{\"matcher\": \"Edit|Write\", \"hooks\": [{\"type\": \"command\", \"command\": \"dbagents hook\"}]}`.",
          "hooks"),
    _rule("CC054", "manifest-path-missing", E, "A path in plugin.json or marketplace.json does not exist.",
          "A component path (`commands`, `agents`, `skills`, `hooks`, …) or a relative plugin `source` points to "
          "nothing.",
          "Claude Code cannot load the component or plugin.",
          "Fix the path; it must start with `./` and stay inside the plugin.", "plugins-reference"),
]

VALIDATOR_RULES: dict[str, RuleInfo] = {r.id: r for r in sorted(_ALL, key=lambda r: r.id)}
