"""Settings of the maintenance commands (backups, PostgreSQL client tools, performance metrics).

Imported at the end of base.py, so it reads the environment itself. docs/operations.md and
docs/metrics.md explain each.
"""

import environ

_env = environ.Env()

# Where `manage.py backup` writes when --out is not given (empty: var/backups).
BACKUP_DIR = _env("BACKUP_DIR", default="")
# Directory of pg_dump/pg_restore/psql matching the server's major version (empty: found on PATH,
# or the embedded server's own).
PG_BIN_DIR = _env("PG_BIN_DIR", default="")
# Annual risk-free rate for Sharpe and Sortino, as a fraction (0.04 = 4%).
PERFORMANCE_RISK_FREE_RATE = _env("PERFORMANCE_RISK_FREE_RATE", default="0")
# Tokens a decision does not tell apart into input and output: this share is priced at the model's input
# price, the rest at its output price (apps/decisions/costs.py). 0, the default, is the upper bound.
INFERENCE_UNSPLIT_INPUT_SHARE = _env("INFERENCE_UNSPLIT_INPUT_SHARE", default="0")
