# Panel: `make run` and `make test` install what is missing, then run. Both are idempotent.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= demo-sign-in-2027
export FLASK_APP := wsgi
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint test-dates install assets system-packages migrate demo bench clean

run: system-packages install assets migrate demo
	@echo "Starting the web app on http://127.0.0.1:5000 and the scheduler (Ctrl-C stops both)"
	$(BIN)/honcho start -f Procfile

# The suite runs on both cores (pytest-xdist; an idle worker takes tests queued for the other, so
# the longest browser tests do not leave one core waiting at the end); PYTEST_ARGS="-n 0" runs it in one process.
test: system-packages install assets lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

TEST_WORKERS ?= 2

# The layers of docs/architecture.md (import-linter, contract in pyproject.toml), ruff, and bandit
# (its skips and reasons in pyproject.toml; findings marked in place with "# nosec" and a reason).
lint: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check panel tests wsgi.py
	$(BIN)/bandit -q -c pyproject.toml -r panel wsgi.py

# The date-sensitive tests (services, panel schedule and agenda, ladder and sweep, workdays, demo data)
# under libfaketime at each awkward instant listed in tests/dates/run.sh: the 1st and 9th of a
# month, 29 February 2028, both 2027 clock-change Sundays at 01:30 London, New Year's Eve 23:30
# and a bank holiday. Prints each instant; fails if any fails. PYTEST_ARGS replaces "-n 2".
test-dates: install assets
	TEST_WORKERS=$(TEST_WORKERS) PYTEST_ARGS="$(PYTEST_ARGS)" bash tests/dates/run.sh

system-packages:
	@bash .ci/system-packages.sh $(if $(filter test,$(MAKECMDGOALS)),test,run)

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Panel needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

assets: static/build/.built

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

static/build/.built: node_modules/.package-lock.json static/build.mjs $(wildcard static/src/*.scss)
	node static/build.mjs
	touch $@

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	@if $(BIN)/flask panel demo-data --password '$(DEMO_PASSWORD)' >/tmp/panel-demo.$$$$ 2>&1; then \
	  cat /tmp/panel-demo.$$$$; echo "Demo password: $(DEMO_PASSWORD)"; \
	else echo "Database already has data; demo users (if loaded) sign in with password: $(DEMO_PASSWORD)"; \
	  echo "  admin@demo.invalid coordinator@demo.invalid chair@demo.invalid spoc.police@demo.invalid"; \
	  echo "  spoc.housing@demo.invalid practitioner.health@demo.invalid board@demo.invalid"; fi; \
	rm -f /tmp/panel-demo.$$$$

# Benchmarks (not collected by pytest): every tests/bench_*.py, each printing its own table
# (the chair's pack PDF against WeasyPrint alone on the same HTML, at most 1.3 times; the
# escalation sweep); the target fails if any script misses its mark. `python -P`: the scripts
# put the project's root on the path themselves, not tests/ (whose html/ hides the standard html).
bench: install
	@status=0; for script in tests/bench_*.py; do echo "== $$script"; $(BIN)/python -P $$script || status=1; done; exit $$status

clean:
	rm -rf $(VENV) node_modules static/build
