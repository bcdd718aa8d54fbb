# The two commands that matter: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export PYTHONPATH := $(CURDIR)
export DJANGO_SETTINGS_MODULE := oasst.settings
export OASST_HOST := $(HOST)
export OASST_PORT := $(PORT)

PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test install install-llama migrate lint format messages bench clean-venv

run: install migrate
	@echo "Serving on http://$(HOST):$(PORT)/ (web, worker and beat); Ctrl-C stops everything."
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile start

# The browser tests run in their own pytest process: Playwright's sync API keeps
# an event loop on the main thread, which the async tests cannot share.
# E2E=0 leaves them out; exit status 5 means PYTEST_ARGS selected none of them.
E2E ?= 1
test: install
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)
	@if [ "$(E2E)" != 0 ]; then $(PY) -m pytest -m e2e $(PYTEST_ARGS) || [ $$? -eq 5 ]; fi

install: $(VENV)/.installed $(MO_FILES)

# torch goes first and alone, pinned: the CPU build on disk. The rest comes
# from pyproject.toml's pins (the project itself runs from this folder).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['dev']))" > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

# The optional llama.cpp backend (GGUF files): llama-cpp-python has no wheel on
# PyPI for Linux, so pip compiles it (about 5 minutes on 2 cores, once: pip
# keeps the wheel in its cache). With it installed, build_demo_model also
# writes and registers a GGUF file, and its tests run. CI installs it.
install-llama: install
	CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-2} $(PY) -m pip install --quiet --disable-pip-version-check llama-cpp-python==0.3.36

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	msgfmt --check-format -o $@ $<

migrate: install
	$(PY) manage.py prepare_instance

messages: install
	$(PY) manage.py makemessages --all --ignore=.venv --ignore=data --no-obsolete

lint: install
	$(VENV)/bin/ruff check oasst tests bench
	$(VENV)/bin/ruff format --check oasst tests bench

format: install
	$(VENV)/bin/ruff format oasst tests bench
	$(VENV)/bin/ruff check --fix oasst tests bench

# bench/chat_server.py is the ASGI app that bench/chat.py serves, not a benchmark.
bench: install
	@for script in $(filter-out bench/chat_server.py,$(wildcard bench/*.py)); do echo "== $$script"; $(PY) $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)
