"""Settings of the site's defences: the Content-Security-Policy and limits on guessing sign-ins and tokens.

Imported at the end of base.py, so it reads the environment itself. docs/reliability.md explains each.
"""

import environ

_env = environ.Env()

# --- Content-Security-Policy (apps.common.middleware.ContentSecurityPolicyMiddleware) -------------
# Scripts, styles, fonts and images come from this origin only (whitenoise serves them; no CDN).
# Inline <script> is refused; inline style attributes are allowed because Django's admin uses them.
# ReDoc runs its search in a worker made from a blob: URL.
CONTENT_SECURITY_POLICY = _env(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
)

# --- Guessing limits (apps.common.attempts), counted in Redis by the memory service's limiter ------
# Admin sign-in attempts (every POST to the login page) per username and per client address within the
# window; past either limit the page answers 429 with Retry-After until the window ends.
ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = _env.int("ADMIN_LOGIN_ATTEMPTS_PER_USERNAME", default=10)
ADMIN_LOGIN_ATTEMPTS_PER_ADDRESS = _env.int("ADMIN_LOGIN_ATTEMPTS_PER_ADDRESS", default=30)
ADMIN_LOGIN_WINDOW_SECONDS = _env.int("ADMIN_LOGIN_WINDOW_SECONDS", default=300)
# API requests with a wrong or revoked token per client address per minute; past it a 429. A valid
# token is never refused because of someone else's failures from the same address.
API_BAD_TOKEN_ATTEMPTS_PER_MINUTE = _env.int("API_BAD_TOKEN_ATTEMPTS_PER_MINUTE", default=20)
