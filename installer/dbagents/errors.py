"""User-facing input errors: one line, exit code 2, never a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a file we cannot read, a config we cannot use.

    The message should name the place (``file:line`` where known) and what to do.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        super().__init__(message)

    def __str__(self) -> str:
        msg = super().__str__()
        if self.path:
            where = f"{self.path}:{self.line}" if self.line else self.path
            return f"{where}: {msg}"
        return msg
