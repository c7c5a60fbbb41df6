# Each target creates .venv if it is missing or older than pyproject.toml.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-clients real clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pipeline data synth --out data/synth --count 1200 --size 128
	$(BIN)/pipeline data split data/synth/all.txt --out data/synth --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Browser (LiteRT.js), Kotlin (kotlinc + JUnit) and Android resources (aapt) checks of an
# exported model that the script builds itself; installs its Debian and npm packages itself.
test-clients: $(STAMP)
	bash tests/clients/run.sh

clean-venv:
	rm -rf $(VENV)
