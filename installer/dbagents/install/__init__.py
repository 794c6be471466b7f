"""`dbagents install` / `uninstall` / `status`: copy the bundle into a `.claude` folder safely.

Data flows one way: source (bundle files) -> target (where, with safety checks) -> plan (what to do per
file, pure) -> apply (atomic writes, backups, manifest) -> one line per file and a summary.
"""
