# Two commands for a new user: `make run` (demo on SQLite, inline tasks) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: venv run test coverage lint typecheck format check worker beat clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/activate

venv: $(BIN)/activate

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py ensure_admin
	@echo "Admin: http://$(HOST):$(PORT)/admin/   OCPI: http://$(HOST):$(PORT)/ocpi/versions"
	OCPI_BASE_URL=$${OCPI_BASE_URL:-http://$(HOST):$(PORT)} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

# The whole suite with the coverage floor ([tool.coverage.report] fail_under in pyproject.toml), as .ci/run does.
coverage: venv
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with django-stubs and DRF stubs; the files it covers are [tool.mypy] files in pyproject.toml.
typecheck: venv
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Import contracts (layers, api modules as an edge): [tool.importlinter] in pyproject.toml.
check: lint typecheck
	$(BIN)/lint-imports
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

worker: venv
	$(BIN)/celery -A ocpi_platform worker --loglevel=INFO

beat: venv
	$(BIN)/celery -A ocpi_platform beat --loglevel=INFO

# Debian's chromium for the browser tests (tests/browser) and `make screenshots`; Playwright (a dev dependency)
# drives it, its own browser download is not used. Needs root or sudo; .ci/run does the same.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: browser browser-test screenshots
browser:
	@test -x $(CHROMIUM) || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)
	@$(CHROMIUM) --version 2>/dev/null

# The main back-office flows in the browser (also part of `make test`; skipped there without chromium).
browser-test: venv browser
	BROWSER_TESTS_REQUIRED=1 $(BIN)/pytest tests/browser $(PYTEST_ARGS)

# PNGs (1400x900) of the main pages into docs/screenshots/, from the demo on a temporary SQLite database.
screenshots: venv browser
	$(BIN)/python tests/browser/screenshots.py

.PHONY: ocpp-server
ocpp-server: venv  ## OCPP 1.6J/2.0.1 WebSocket server for charge points (ws://OCPP_HOST:OCPP_PORT/ocpp/<id>)
	$(BIN)/python manage.py ocpp_server --host $${OCPP_HOST:-127.0.0.1} --port $${OCPP_PORT:-9000}

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
