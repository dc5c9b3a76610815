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
# collectstatic needs settings that import; these placeholder values exist only for this build step. Building the
# ONNX embedder once checks the model's checksums and caches its int8-kernel rewrite in var/models, so workers
# load it without importing the graph editor.
RUN DJANGO_SECRET_KEY=build-only-placeholder-build-only-placeholder-build-only \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    QDRANT_URL=http://localhost:6333 \
    sh -c 'python manage.py collectstatic --no-input \
    && python -c "import django; django.setup(); from apps.memory.services.embeddings import build_embedder; build_embedder()"' \
    && mkdir -p var && chown -R tradeoffice:tradeoffice var

USER tradeoffice
EXPOSE 8000
CMD ["gunicorn", "tradeoffice.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
