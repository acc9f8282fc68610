# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench venv clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# The build leaves prasan.egg-info here; run from this folder it would shadow the installed metadata
	# (entry points included) and go stale when pyproject.toml changes.
	rm -rf prasan.egg-info
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/prasan demo

# The whole suite as CI runs it: a throwaway PostgreSQL when its binaries are installed (reused when
# PRASAN_TEST_POSTGRES_URL is already set, as in .ci/run), and a summary of what was skipped and why.
test: $(STAMP)
	PYTHON_BIN=$(BIN)/python bash scripts/make_test.sh $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	rm -rf prasan.egg-info
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) var/*.db var/*.db-* var/simulators .pytest_cache .hypothesis
