"""Where the loop behind a repeated statement is: the innermost project frame whose line sits inside a
`for`/`while` loop or a comprehension, read from the file's syntax tree (parsed once per file, and only
for statements that already ran N times from one call site)."""

from __future__ import annotations

import ast
import os
import warnings

_SPANS: dict[str, list[tuple[int, int, int, bool]]] = {}  # file -> (first body line, last line, loop line, comprehension)
_RETURNS: dict[str, set[int]] = {}  # file -> lines of `return` statements
_TEST_DIRS = {"tests", "test", "testing"}


def loop_spans(filename: str) -> list[tuple[int, int, int, bool]]:
    spans = _SPANS.get(filename)
    if spans is None:
        spans = []
        returns = _RETURNS[filename] = set()
        try:
            with open(filename, "rb") as handle:
                source = handle.read()
            # Parsing runs inside the user's test: the compiler's warnings about their file (an invalid
            # escape sequence) are theirs to see at import, not again from here, where an error filter
            # (-W error) would also turn them into a SyntaxError and lose the loop.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source, filename)
        except (OSError, SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                spans.append((node.body[0].lineno, node.end_lineno or node.lineno, node.lineno, False))
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                spans.append((node.lineno, node.end_lineno or node.lineno, node.lineno, True))
            elif isinstance(node, ast.Return):
                returns.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        _SPANS[filename] = spans
    return spans


def loop_frames(stack) -> list[tuple[int, str, int, int]]:
    """(index in the stack, file, first line, last line of the loop) for every loop or comprehension
    around a stack frame's line: innermost frame first, and within a frame innermost loop first (a
    statement in `for group in groups: for table in tables:` repeats through both). A frame whose line
    returns the call's result (`return call()` inside a retry loop) leaves its for/while loops, so those
    are not loops that repeat it."""
    found = []
    for index, (filename, line) in enumerate(stack):
        spans = loop_spans(filename)
        # `return call()` leaves a for/while loop (it repeats only on an error: a retry loop); a
        # comprehension in the returned expression still repeats
        returning = line in _RETURNS.get(filename, ())
        around = [span for span in spans if span[0] <= line <= span[1] and (span[3] or not returning)]
        for _body, last, loop_line, _comprehension in sorted(around, reverse=True):
            found.append((index, filename, loop_line, last))
    return found


def find_loops(stack) -> list[tuple[str, int]]:
    """(file, line of the loop) for every loop or comprehension around the stack's frames, innermost
    first, each loop once (a comprehension's frame and its caller's name the same one)."""
    found = []
    for _index, filename, loop_line, _last in loop_frames(stack):
        if (filename, loop_line) not in found:
            found.append((filename, loop_line))
    return found


def is_test_code(filename: str, test_file: str, rootdir: str) -> bool:
    """The running test's module, a conftest.py, a test_*.py / *_test.py file or one in a tests/ folder
    (folders counted from the rootdir down)."""
    if os.path.realpath(filename) == os.path.realpath(test_file):
        return True
    name = os.path.basename(filename)
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    folders = os.path.dirname(os.path.relpath(os.path.realpath(filename), os.path.realpath(rootdir)))
    return bool(_TEST_DIRS.intersection(folders.split(os.sep)))
