"""Fact extractors. Each module here defines:

- ``KEY``: the name its facts are stored under (``ctx.facts[KEY]``, ``project.module_facts(KEY)``);
- ``TRIGGERS``: substrings; the extractor runs only on files containing one of them;
- ``KINDS`` (optional, default ``("python",)``): which file kinds it reads (``python``, ``ini``);
- ``extract(src: SourceFile) -> object | None``: facts for one file, built of builtins and the dataclasses
  registered in ``check/codec.py`` (run in workers, kept in the result cache);
- ``build(project) -> object`` (optional): project-wide facts from all files' facts, via ``project.get(KEY)``.

Extractors never read files themselves and never import user code.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache


@lru_cache(maxsize=1)
def extractors() -> dict:
    """KEY -> module, for every extractor module in this package."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "KEY") and hasattr(module, "extract"):
            found[module.KEY] = module
    return found
