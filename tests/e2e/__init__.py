"""End-to-end tests: the real Claude Code CLI driven by a scripted model server."""
