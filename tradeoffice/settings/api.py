"""Settings of the agent API (DRF, filtering, OpenAPI, limits, per-agent rate limits).

Imported at the end of base.py, so it reads the environment itself. docs/api.md explains each.
"""

import environ

_env = environ.Env()

# --- Limits -----------------------------------------------------------------------------------
# Largest request body, in bytes: a larger one is a 413 before it is parsed.
API_MAX_BODY_BYTES = _env.int("API_MAX_BODY_BYTES", default=10 * 1024 * 1024)
# Django reads a JSON body whole before the API's parser sees it, refusing more than this: the same limit
# (Django's default, 2.5 MB, would refuse a batch the API documents as allowed).
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Most orders/trades/... in one list body (one transaction).
API_MAX_BATCH_ITEMS = _env.int("API_MAX_BATCH_ITEMS", default=1000)
API_PAGE_SIZE = _env.int("API_PAGE_SIZE", default=100)
API_MAX_PAGE_SIZE = _env.int("API_MAX_PAGE_SIZE", default=1000)
# A replay of an Idempotency-Key older than this is treated as a new request (purged keys).
API_IDEMPOTENCY_KEY_TTL_HOURS = _env.int("API_IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Requests per agent per minute, counted in Redis by the memory service's limiter; 0 disables.
API_RATE_LIMIT_PER_MINUTE = _env.int("API_RATE_LIMIT_PER_MINUTE", default=1200)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.agents.authentication.AgentTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.agents.permissions.IsAgent"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.agents.throttling.AgentRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.common.api.parsers.DecimalJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.common.api.pagination.NumberedPagination",
    "DEFAULT_SCHEMA_CLASS": "apps.common.api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "apps.common.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "TradeOffice agent API",
    "DESCRIPTION": (
        "Trading agents record their decisions, orders (ccxt's unified structures as they are), trades, "
        "positions, snapshots and experiences here, and ask their memory. Every call needs "
        "`Authorization: Bearer <token>` (manage.py create_agent). Money is a decimal string."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [
        "apps.agents.authentication.AgentTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SERVE_PERMISSIONS": ["apps.agents.permissions.IsAgentOrStaff"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from the drf-spectacular-sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SideEnum": "apps.execution.models.choices.Side",
        "OrderStatusEnum": "apps.execution.models.choices.OrderStatus",
        "OrderTypeEnum": "apps.execution.models.choices.OrderType",
        "SeverityEnum": "apps.system_events.models.Severity",
        "OutcomeEnum": "apps.memory.models.Outcome",
        "DecisionLayerEnum": "apps.decisions.models.DecisionLayer",
        "RunStatusEnum": "apps.reconciliation.models.RunStatus",
        "DiscrepancyStateEnum": "apps.reconciliation.models.DiscrepancyState",
        "DiscrepancyKindEnum": "apps.reconciliation.models.DiscrepancyKind",
    },
}
