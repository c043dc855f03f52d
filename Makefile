# vrs: visual product recommender. `make demo` shows it work, `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vrs-installed
export PATH := $(abspath $(BIN)):$(PATH)

PROTO_SRC := $(wildcard protos/vrs/v1/*.proto)
PROTOC = $(BIN)/python -m grpc_tools.protoc -I protos \
	--python_out=$(1) --grpc_python_out=$(1) --mypy_out=$(1) --mypy_grpc_out=$(1) $(PROTO_SRC)

.PHONY: setup proto proto-check lint test test-fast test-unit demo web serve serve-embedder serve-search bench bench-gpu loadtest drill lock clean

setup: $(STAMP)

# Idempotent: reinstalls only when the project or the lock changes.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[embedder,dev]'
	@touch $@

proto: $(STAMP)
	$(call PROTOC,.)

# Fails when the committed stubs differ from what `make proto` generates now.
proto-check: $(STAMP)
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	$(call PROTOC,$$out) 2>/dev/null && \
	diff -r -x __pycache__ -x __init__.py "$$out/vrs/v1" vrs/v1 \
		|| { echo "generated gRPC code is stale: run 'make proto' and commit"; exit 1; }
	@echo "generated gRPC code is up to date"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy vrs services tests benchmarks

# The whole suite (what CI runs), with the 25 slowest tests listed at the end.
test: $(STAMP) proto-check lint
	$(BIN)/python -m pytest -q --durations=25

# Everything but the tests marked slow (real model weights, many images).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The tests that start nothing (no Redis, gRPC server, child process, CNN, browser or deploy
# tooling; tests/conftest.py marks the others and holds these to it): well under a minute.
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not (redis or grpc or subprocess or cnn or browser or deploy)"

demo: $(STAMP)
	$(BIN)/python -m services.demos.demo

# The web page and JSON API with the sample catalog indexed, until Ctrl-C (VRS_WEB_PORT: 8080).
web: $(STAMP)
	$(BIN)/python -m services.demos.web_demo

serve: $(STAMP)
	$(BIN)/vrs serve

serve-embedder: $(STAMP)
	$(BIN)/vrs serve --service embedder

serve-search: $(STAMP)
	$(BIN)/vrs serve --service search

bench: $(STAMP)
	$(BIN)/python -m benchmarks.embed_throughput
	$(BIN)/python -m benchmarks.decode_speed
	$(BIN)/python -m benchmarks.cache_hit
	$(BIN)/python -m benchmarks.ann_scale
	$(BIN)/python -m benchmarks.ann_scale --grouped
	$(BIN)/python -m benchmarks.decode_memory
	$(BIN)/python -m benchmarks.feature_quality
	$(BIN)/python -m benchmarks.query_cost
	$(BIN)/python -m benchmarks.index_photos
	$(BIN)/python -m benchmarks.region_quality

# The GPU path (fp16, CUDA graphs, nvJPEG decoding): model-only and end-to-end img/s at batch
# 32/64/128; says so and exits 0 where there is no CUDA device.
bench-gpu: $(STAMP)
	$(BIN)/python -m benchmarks.gpu_bench

# A bounded load (loopback only) on a vrs serve it starts, or on ARGS="--address HOST:PORT".
loadtest: $(STAMP)
	$(BIN)/python -m benchmarks.loadtest $(ARGS)

# The hardening issues' faults on processes of its own (loopback, ~5 min); ends `drill: PASS`.
drill: $(STAMP)
	$(BIN)/python -m benchmarks.drill $(ARGS)

# Re-pin after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^vrs==' > requirements.lock

clean:
	rm -rf build $(VENV) .mypy_cache .ruff_cache .pytest_cache
