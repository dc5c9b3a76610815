# TradeOffice web and API image: gunicorn serving Django, as a non-root user.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=tradeoffice.settings.prod

# pg_dump/pg_restore and redis-cli for the backup and restore commands.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client redis-tools \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system tradeoffice && useradd --system --gid tradeoffice --home /app tradeoffice
WORKDIR /app

COPY requirements/ requirements/
# The agent-side package (clients/python) is installed from the tree: manage.py mcp_server runs it.
COPY clients/ clients/
RUN pip install -r requirements/prod.txt

COPY --chown=tradeoffice:tradeoffice . .
# collectstatic needs settings that import; these placeholder values exist only for this build step.
RUN DJANGO_SECRET_KEY=build-only-placeholder-build-only-placeholder-build-only \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    QDRANT_URL=http://localhost:6333 \
    python manage.py collectstatic --no-input

USER tradeoffice
EXPOSE 8000
CMD ["gunicorn", "tradeoffice.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
