# rotor's entry points. `make test` is what CI runs (.ci/run); see docs/testing.md.
# Focused test run: make test ARGS="-run TestPostgres ./internal/testenv"

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test test-deps lint bench

build:
	go build -ldflags "$(LDFLAGS)" -o bin/rotor ./cmd/rotor

test:
	bash scripts/test.sh $(ARGS)

test-deps:
	bash scripts/test-deps.sh

lint:
	bash scripts/lint.sh

# Every benchmark behind docs/benchmarks.md (about 25 minutes): make bench ARGS="store api"
bench:
	bash scripts/bench.sh $(ARGS)
