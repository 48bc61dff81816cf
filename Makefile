# serialvault — the two commands a new machine needs are `make demo` and `make test`.
# Both create ./.venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-site

.PHONY: setup demo test test-tools test-fast soak lint bench bench-tools bench-full clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# WeasyPrint (evidence PDFs) needs Pango from the system; installed when missing
	@ldconfig -p | grep -q libpangoft2-1.0 || { \
	  echo "installing Pango for the PDF reports (libpango-1.0-0 libpangoft2-1.0-0)"; \
	  $$(command -v sudo) apt-get update -qq && \
	  $$(command -v sudo) apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) test-tools
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

bench: $(STAMP) bench-tools
	$(BIN)/python bench/run.py
	$(BIN)/python bench/micro.py
	$(BIN)/python bench/backup_bench.py
	$(BIN)/python bench/drill_bench.py
	$(BIN)/python bench/identity_bench.py
	$(BIN)/python bench/review_bench.py
	$(BIN)/python bench/serials_bench.py

# The fault-injection tests with their long repetition counts (kill -9 twenty times).
soak: $(STAMP) test-tools
	SERIALVAULT_SOAK=1 $(BIN)/python -m pytest -q -n 2 tests/store/test_crash.py tests/backup/test_crash.py

# Headless Chromium renders the drill reports in the tests (Debian package chromium).
test-tools:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium for the browser tests of the drill reports"; \
	  $$(command -v sudo) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$(command -v sudo) apt-get install -y -qq chromium; }

# The backup benchmark's peers: sqlite3 .backup, zstd, pg_dump/pg_restore (Debian packages).
bench-tools:
	@command -v sqlite3 >/dev/null && command -v zstd >/dev/null && command -v pg_dump >/dev/null \
	  && command -v pg_restore >/dev/null || { \
	  echo "installing the benchmark peers: sqlite3 zstd postgresql-client"; \
	  $$(command -v sudo) apt-get update -qq && \
	  $$(command -v sudo) apt-get install -y -qq sqlite3 zstd postgresql-client; }

clean:
	rm -rf $(VENV) $(DEMO_DIR) serialvault.db serialvault.db-wal serialvault.db-shm serialvault.db.witness demo-backup demo-backup-2 demo-restored.db demo-drills drill-runs drill-sandbox demo-users demo-short-case.jsonld demo-review demo-inspection.zip .pytest_cache .mypy_cache .ruff_cache
