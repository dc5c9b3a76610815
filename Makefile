# TradeOffice: `make run` serves the back-office, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install migrate clean-var

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements/base.txt requirements/dev.txt
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DJANGO_SETTINGS_MODULE=tradeoffice.settings.dev $(BIN)/python manage.py init_databases

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

clean-var:
	rm -rf var/
