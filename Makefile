# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SIMULATOR_PORT ?= 8001
# The development environment: DEBUG on, SQLite, console email, the simulator.
DEV_ENV := DEBUG=1 MPESA_ENVIRONMENT=simulator MPESA_BASE_URL=http://127.0.0.1:$(SIMULATOR_PORT) SITE_URL=http://127.0.0.1:$(PORT)

.PHONY: run test install install-dev css chromium migrate demo lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed-dev

css: $(VENV)/.installed-dev
	$(BIN)/python scripts/tw_sources.py
	$(BIN)/tailwindcss -i tailwind/input.css -o static/css/app.css --minify

migrate: $(VENV)/.installed-dev
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput

demo: migrate
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	$(DEV_ENV) $(BIN)/python manage.py schedule_jobs

run: css demo
	@echo "Shop on http://127.0.0.1:$(PORT)  (Ctrl-C stops everything)"
	$(DEV_ENV) PORT=$(PORT) SIMULATOR_PORT=$(SIMULATOR_PORT) $(BIN)/python scripts/dev.py

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's Chromium for the journey tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install css chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) staticfiles media db.sqlite3* static/css/app.css tailwind/crispy-source.css
