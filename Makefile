# Two commands for a new user: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench venv clean bundle

# A .venv that has no pip or a Python older than 3.11 (a `python3.11 -m venv` that failed half-way,
# as Debian's does without python3.11-venv) is made again, not reused on every later run.
$(STAMP): pyproject.toml
	@if ! $(PY) -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	  rm -rf $(VENV); \
	  py=$$(command -v $(PYTHON) || { python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	    && command -v python3; }); \
	  if [ -z "$$py" ]; then echo "make: Fleetcast needs Python 3.11 or newer as $(PYTHON) or python3 (README)"; exit 1; fi; \
	  $$py -m venv $(VENV) || { rm -rf $(VENV); \
	    echo "make: '$$py -m venv' failed; on Debian/Ubuntu install python3.11-venv (README)"; exit 1; }; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bundle]'
	@touch $(STAMP)

venv: $(STAMP)

# Before the window opens, `gui` checks that Qt's X11 plugin can load and, if not, prints the
# apt-get / dnf command for the missing system libraries (gui/syslibs.py) and exits 1.
run: $(STAMP)
	$(PY) -m gui

# A self-contained folder app (PyInstaller onedir): dist/fleetcast/fleetcast, with a .desktop file
# beside it that points at the bundle. Needs no Python on the target, only the system libraries
# listed in README.
bundle: $(STAMP)
	$(PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/fleetcast.spec
	$(PY) packaging/write_desktop_entry.py dist/fleetcast
	@du -sh dist/fleetcast

# -n auto: one pytest worker per core (pytest-xdist). --dist loadfile keeps each test file on one
# worker, so a file's module-scoped fixtures (the bundle build, the story's forecasts) run once.
test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n auto --dist loadfile --durations=25

# ruff (bugs, not style), import-linter (the layers: engine without Qt, SQLite only in the store,
# panels without the store) and mypy on the engine; a few seconds.
lint: $(STAMP)
	$(VENV)/bin/ruff check engine gui tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; QT_QPA_PLATFORM=offscreen $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
