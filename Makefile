# Alur: everything a fresh clone needs is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 0.0.0.0
PORT   ?= 5000
WORKERS ?= 2

.PHONY: setup run serve test test-fast lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null

# pdftotext and pdfinfo: the printed-SOP browser test reads the PDF Chromium makes
/usr/bin/pdftotext:
	apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null

setup: $(BIN)/.installed node_modules/.installed

## make run: set up, create/upgrade the SQLite database with the bundled SOP and demo users, serve.
run: setup
	$(BIN)/alur init --demo
	@echo ""
	@echo "Alur berjalan di http://localhost:$(PORT)/ — masuk sebagai salah satu pengguna demo di atas"
	@echo "(mis. 'pemohon' untuk mengajukan permohonan), kata sandi: alur-demo"
	@echo ""
	$(MAKE) --no-print-directory serve

serve:
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - api.wsgi:app

## make test: set up (Python, npm, Debian chromium and poppler-utils for the browser tests) and run the whole suite.
test: setup /usr/bin/chromium /usr/bin/pdftotext
	$(BIN)/ruff check .
	$(BIN)/pytest -q

## make test-fast: the suite without live servers, fuzzing, the browser and PostgreSQL (under a minute).
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not slow and not browser and not postgres"

## make bench: measure the engine, the API under load, the inbox at 100k instances, storage and memory
## on this machine (fresh data in a temp dir and a new PostgreSQL database); prints a table.
bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache
