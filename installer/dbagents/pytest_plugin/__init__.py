"""Runtime N+1 detection for pytest (DBA401-DBA404) on SQLAlchemy 2.0 and 2.1.

Importing this package is cheap and never imports SQLAlchemy; the recorder that listens to
SQLAlchemy events is only loaded when the plugin is enabled.
"""

from __future__ import annotations

from dbagents.pytest_plugin.allow import allow_nplusone

__all__ = ["allow_nplusone"]
