# maestro — `make help` lists the targets.
SHELL := bash
GO ?= go
BIN := bin/maestro
OPS_BIN := bin/maestro-ops
TOOLS := $(GO) tool -modfile=tools/go.mod
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X github.com/maestro-conductor/maestro/internal/cli.Version=$(VERSION)

.PHONY: help build test test-race lint fmt bench demo tools fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/maestro and its companion bin/maestro-ops (promote, verify, keys, log, serve, status)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/maestro
	$(GO) build -ldflags "$(LDFLAGS)" -o $(OPS_BIN) ./cmd/maestro-ops

test: ## run every test (what CI runs)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

test-race: ## run the tests under the race detector
	$(GO) test -race -count=1 ./...

lint: ## gofmt check, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS) staticcheck ./...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

bench: build ## benchmarks: Go micro-benchmarks and maestro vs dyff (writes bench/results/)
	bash bench/run.sh

fuzz: ## run each fuzzer for FUZZTIME (default 30s)
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$${FUZZTIME:-30s} ./workflow/
	$(GO) test -run='^$$' -fuzz=FuzzDigestStable -fuzztime=$${FUZZTIME:-30s} ./digest/

demo: build ## validate, digest and diff the example repository in a scratch git repo
	bash scripts/demo.sh

tools: ## build the pinned dev tools (dyff, staticcheck, benchstat, cosign)
	$(TOOLS) dyff version
	$(TOOLS) staticcheck -version
	$(TOOLS) cosign version
