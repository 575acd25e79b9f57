# stockledger: every target installs or fetches what it needs (Go modules
# come from the Go module proxy on first build).
GO      ?= go
BIN     := bin/stockledger
DATA    ?= ./data
PKGS    := ./...

.PHONY: all build run test vet lint bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/stockledger

## run: the processor on an embedded Kafka broker, fed by a live demo.
run: build
	$(BIN) run --demo --data $(DATA)

## test: vet, unit, scenario, model and end-to-end tests (kfake).
test: vet
	$(GO) test -count=1 -timeout 20m $(PKGS)

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 $(PKGS)

## bench: the fold benchmarks (go test -bench), medians of 5 runs.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./bench/ ./schemas/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeEvent -fuzztime 60s ./schemas/

clean:
	rm -rf bin
