VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test preview lint bench clean

# The program, handlers and tests use 3.11 syntax and stdlib (tomllib, typing.Self): say so instead of a traceback.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: Python >= 3.11 is required, '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)." >&2; \
	  echo "       Install 3.11+ and run e.g. 'make test PYTHON=python3.12'." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-dev.txt policies/requirements.txt
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# pytest-xdist: one worker per core plus one for the tests on the shared local runtime, which mostly wait
# (tests/conftest.py, pytest_xdist_auto_num_workers). `--dist loadgroup` keeps those on a single worker and each
# module's tests together; without reordering, the runtime's group (collected first) starts first.
# `make test PYTEST_ARGS="-n 0"` runs everything in one process.
PYTEST_ARGS ?= -n auto --dist loadgroup --no-loadscope-reorder
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

preview: $(STAMP)
	$(PY) -m policies.check --all-stacks

bench: $(STAMP)
	$(PY) -m pytest tests -m benchmark_run --benchmark-enable

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# The stack's own graph served locally on moto: `make dev`, `make dev STACK=prod PORT=8080 AWS_PORT=5000`.
# Ports 0 mean free ones; the URLs are printed and written to .dev/endpoints.json. Ctrl-C stops everything.
STACK ?= dev
PORT ?= 0
AWS_PORT ?= 0
TIME_SCALE ?= 1
# Scheduled rules fire on demand (`python -m offline.local schedule <rule>`); SCHEDULES=auto fires rate() rules
# every period x TIME_SCALE.
SCHEDULES ?= on-demand
.PHONY: dev
dev: $(STAMP)
	$(PY) -m offline.local --stack $(STACK) --port $(PORT) --aws-port $(AWS_PORT) --time-scale $(TIME_SCALE) \
	  --schedules $(SCHEDULES)
