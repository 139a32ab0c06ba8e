VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test preview lint bench clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-dev.txt policies/requirements.txt
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

preview: $(STAMP)
	$(PY) -m policies.check --all-stacks

bench: $(STAMP)
	$(PY) -m pytest tests -m benchmark_run --benchmark-enable

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
