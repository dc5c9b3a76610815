# TradeOffice: `make run` serves the back-office, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run stop test lint install migrate clean-var bench soak fuzz eval-memory

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements/base.txt requirements/dev.txt
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DJANGO_SETTINGS_MODULE=tradeoffice.settings.dev $(BIN)/python manage.py init_databases --rebuild-stale

run: migrate
	DJANGO_SETTINGS_MODULE=tradeoffice.settings.dev $(BIN)/python manage.py seed_demo --if-empty
	DJANGO_SETTINGS_MODULE=tradeoffice.settings.dev $(BIN)/python manage.py ensure_dev_login
	@echo ""
	@echo "  TradeOffice admin:  http://$(HOST):$(PORT)/$${DJANGO_ADMIN_URL:-admin/}"
	@echo "  Development login:  admin / admin   (created for this machine only)"
	@echo "  Agent API docs:     http://$(HOST):$(PORT)/api/v1/docs/   (token: .venv/bin/python manage.py create_agent NAME)"
	@echo ""
	DJANGO_SETTINGS_MODULE=tradeoffice.settings.dev $(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Stops this checkout's embedded PostgreSQL and Redis (those under $$TRADEOFFICE_VAR_DIR, else var/), found by
# the PIDs they recorded there; without .venv none can have been started from here.
stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m tradeoffice.embedded stop; \
	else echo "No $(VENV)/: no embedded server was started from this checkout."; fi

# Stops the embedded servers, then deletes their data (and the dev encryption key, Qdrant Edge's data).
clean-var: stop
	@dir="$${TRADEOFFICE_VAR_DIR:-var}"; rm -rf -- "$$dir" && echo "Deleted $$dir/."

# Ten minutes of mixed agent traffic from 32 clients through gunicorn on private PostgreSQL and Redis
# servers, each restarted once; fails on a lost acknowledged write or a 5xx outside the restarts.
soak: install
	$(BIN)/python tests/soak/run_soak.py --duration $${SOAK_SECONDS:-600} --clients $${SOAK_CLIENTS:-32} --report test-artifacts/soak.json

# Schemathesis at depth over HTTP (every phase, stateful sequences included) on private servers.
fuzz: install
	$(BIN)/python tests/soak/run_fuzz.py --max-examples $${FUZZ_EXAMPLES:-200} --max-time $${FUZZ_SECONDS:-900}

# The memory benchmark: the project's retrieval set through recall, per embedder, hybrid and direction features
# on and off (docs/memory.md). Under a minute; touches neither the database nor the real collection.
eval-memory: install
	DJANGO_SETTINGS_MODULE=tradeoffice.settings.dev $(BIN)/python manage.py eval_memory --check $(EVAL_ARGS)

# Every benchmark beside its baseline, written to bench/results.md (scratch bench_* databases, Redis db 8;
# BENCH_POSTGRES_URL and BENCH_REDIS_URL name the servers). About 25 minutes on 2 cores.
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)
