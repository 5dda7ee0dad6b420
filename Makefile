# Two commands: `make run` (the whole portal on embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev migrate lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The demo runs with DEBUG on (off unless set, as in production), which also lets it use
# the public development SECRET_KEY. Set DEBUG=false to try the production behaviour.
run migrate: export DEBUG ?= true

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable

# The sandbox prices in 3-8 s, so the demo polls every 3 s rather than production's 15.
# Before the line has measured its pace it guesses MOMENTUM_TYPICAL_LATENCY plus one poll:
# 4.5 + 3 = 7.5 s, the demo's measured turn (a price seen at the 6 or 9 s poll, about
# 7.2 s, plus the next quote's start), not production's 150 + 15 s.
run: migrate
	$(BIN)/python manage.py ensure_demo_user
	PATH="$(abspath $(BIN)):$$PATH" MOMENTUM_POLL_INTERVAL="$${MOMENTUM_POLL_INTERVAL:-3}" \
		MOMENTUM_TYPICAL_LATENCY="$${MOMENTUM_TYPICAL_LATENCY:-4.5}" \
		$(BIN)/honcho start -f Procfile

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var/broker var/celerybeat-schedule* var/test-db.sqlite3* var/sandbox.sqlite3*
