"""dbagents: Claude Code database agents and the deterministic checker behind them."""

__version__ = "0.1.0"
