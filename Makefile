# switchlua — build, test, benchmark.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
PKGS := ./...
BIN := bin/switchlua

.PHONY: all build test vet fmtcheck bench fuzz run integration clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/switchlua

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The test command CI runs (README.md): format, vet, race-enabled tests.
test: fmtcheck vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Benchmarks print `bench: NAME VALUE UNIT` lines.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m $(PKGS) | tee /tmp/switchlua-bench.txt | grep -E '^(bench:|ok|FAIL|---)' || true
	@grep -q '^FAIL' /tmp/switchlua-bench.txt && exit 1 || true

# Short runs of every fuzz target. Counted (-fuzztime Nx), not timed: a timed
# run can end with a spurious "context deadline exceeded" (golang/go#75804).
FUZZTIME ?= 20000x
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The end-to-end tests against a real FreeSWITCH: set SWITCHLUA_TEST_FS=host:port.
integration:
	@test -n "$$SWITCHLUA_TEST_FS" || { echo "set SWITCHLUA_TEST_FS=host:port (and SWITCHLUA_TEST_FS_PASSWORD)"; exit 1; }
	$(GO) test -count=1 -timeout 30m $(PKGS)

# A short demo on the built-in simulator.
run: build
	$(BIN) run --script toneplay --rate 20 --limit 100 --max-offered 100 --metrics-file bin/demo-cdr.csv
	$(BIN) plot bin/demo-cdr.csv -o bin/demo-cdr.png

clean:
	rm -rf bin
