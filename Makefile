# Every target sets up .venv itself (idempotent: the stamp file is rebuilt only when
# pyproject.toml changes), so `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test attack fuzz mutate lint typecheck bench report clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,plots,fast]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/jlab train

test: $(STAMP)
	$(BIN)/python -m pytest -q

attack: $(STAMP)
	$(BIN)/python tests/attack.py --sweep

fuzz: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -rP

mutate: $(STAMP)
	$(BIN)/jlab mutate

lint: $(STAMP)
	$(BIN)/ruff check jacobian_lab derivations tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

report: $(STAMP)
	@if command -v pdflatex >/dev/null; then \
		$(BIN)/jlab report --all -o catalog.pdf; \
	else \
		echo "pdflatex not found (apt-get install texlive-latex-base): writing catalog.tex instead"; \
		$(BIN)/jlab report --all -o catalog.tex; \
	fi

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
