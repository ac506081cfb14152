# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SIMULATOR_PORT ?= 8001
# The development environment: DEBUG on, SQLite, console email, the simulator.
DEV_ENV := DEBUG=1 MPESA_ENVIRONMENT=simulator MPESA_BASE_URL=http://127.0.0.1:$(SIMULATOR_PORT) SITE_URL=http://127.0.0.1:$(PORT)

.PHONY: run test install install-dev css chromium nginx gettext messages migrate demo lint clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions, hashes checked); a
# requirements file naming a package its lock doesn't pin stops here.
$(VENV)/.installed: requirements.lock $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements.lock requirements-dev.lock requirements.txt requirements-dev.txt $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python scripts/check_lock.py
	touch $@ $(VENV)/.installed

# Write requirements.lock and requirements-dev.lock again from requirements*.txt
# (pins already in a lock are kept unless a requirement rules them out).
LOCK_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock"
lock: $(BIN)/python
	[ -x $(BIN)/uv ] || $(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(LOCK_COMPILE) requirements.txt -o requirements.lock
	$(LOCK_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock
	$(MAKE) install

install: $(VENV)/.installed-dev

css: $(VENV)/.installed-dev
	PYTHON=$(BIN)/python scripts/build.sh css

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

# Debian's nginx in front of two shop instances (tests/deploy/test_instances.py).
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo "Installing Debian's nginx for the deployment tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null; }

# axe-core for the journeys' accessibility checks, at the version package-lock.json pins.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	npm ci --no-audit --no-fund
	touch $@

# GNU gettext: makemessages and the catalogue check (storefront/translations.py).
gettext:
	@command -v msgfmt >/dev/null 2>&1 || { \
	  echo "Installing GNU gettext for the translation check"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gettext >/dev/null; }

# Extract new or changed strings into locale/sw/LC_MESSAGES/django.po and compile it.
messages: install gettext
	$(BIN)/python -m storefront.translations update

test: install css chromium nginx gettext node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) staticfiles media db.sqlite3* static/css/app.css tailwind/crispy-source.css
