# stockledger: every target installs or fetches what it needs (Go modules
# come from the Go module proxy on first build).
GO      ?= go
BIN     := bin/stockledger
DATA    ?= ./data
# make run's ports: the embedded Kafka broker's and the HTTP API's.
KAFKA_PORT ?= 9092
HTTP_PORT  ?= 8080
PKGS    := ./...

KAFKA_DIR ?= $(CURDIR)/.kafka-test
KAFKA    := deploy/kafka/kafka.sh
APICURIO_DIR  ?= $(CURDIR)/.apicurio-test
APICURIO_PORT ?= 18081
APICURIO      := deploy/apicurio/apicurio.sh

.PHONY: all build run test test-browser test-kafka check-deploy vet lint bench bench-quick bench-kafka fuzz clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/stockledger

## run: the processor on an embedded Kafka broker, fed by a live demo.
run: build
	$(BIN) run --demo --data $(DATA) --embedded-addr 127.0.0.1:$(KAFKA_PORT) --http 127.0.0.1:$(HTTP_PORT)

## test: vet, unit, scenario, model and end-to-end tests (kfake). The
## console's browser test is test-browser's.
test: vet
	$(GO) test -count=1 -timeout 20m -skip '^TestConsoleInBrowser$$' $(PKGS)

## test-browser: the web console clicked through in headless Chromium
## (Debian's package, installed when missing) against a live processor;
## a missing browser fails it. STOCKLEDGER_UPDATE_SCREENSHOTS=1 rewrites
## docs/console-*.png.
test-browser:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	STOCKLEDGER_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 5m -run '^TestConsoleInBrowser$$' ./processors/console/

## test-kafka: the end-to-end suite against a real Apache Kafka broker
## (fetched from Maven Central, started on 127.0.0.1:19092, stopped after)
## and, for schema registry mode, a real Apicurio Registry (Maven Central,
## 127.0.0.1:$(APICURIO_PORT), in-memory, stopped after; needs Java 21+).
## Against any other Kafka: STOCKLEDGER_TEST_BROKERS=host:port go test ./processors/ ./cmd/stockledger/
## (and STOCKLEDGER_TEST_REGISTRY_URL=http://host:port for another registry).
test-kafka: build
	$(KAFKA) fetch
	$(APICURIO) fetch
	rm -rf $(KAFKA_DIR) $(APICURIO_DIR)
	@set -e; trap '$(KAFKA) stop --dir $(KAFKA_DIR); $(APICURIO) stop --dir $(APICURIO_DIR)' EXIT; \
	  $(KAFKA) start --dir $(KAFKA_DIR) --port 19092 --controller-port 19093 --sasl-port 19094; \
	  $(APICURIO) start --dir $(APICURIO_DIR) --port $(APICURIO_PORT); \
	  STOCKLEDGER_TEST_BROKERS=127.0.0.1:19092 STOCKLEDGER_TEST_SASL_BROKERS=127.0.0.1:19094 \
	  STOCKLEDGER_KAFKA_SCRIPT=$(CURDIR)/$(KAFKA) STOCKLEDGER_KAFKA_DIR=$(KAFKA_DIR) \
	  STOCKLEDGER_TEST_REGISTRY_URL=http://127.0.0.1:$(APICURIO_PORT)/apis/ccompat/v7 \
	    $(GO) test -p 1 -count=1 -timeout 40m -run 'EndToEnd|StoreFailure|SIGKILL|KillBetweenStages|ProduceTail|BrokerRestart|ThreeInstances|ExactlyOnce|Replay|History|Verify|Backtest|Python|SASLRealKafka|GracefulShutdown|ShutdownTimeout|OpenAPIConformance|SchemaRegistry|PublishUnder' ./processors/ ./processors/audit/ ./cmd/stockledger/

## check-deploy: the shipped Prometheus config and rules, checked by
## Prometheus' own promtool (built from the Go module proxy on first use).
PROMTOOL := $(GO) run github.com/prometheus/prometheus/cmd/promtool@v0.316.0
check-deploy:
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) check rules deploy/prometheus/alerts.yml

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags crashpoints ./processors/

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## bench: every figure: the fold and codec micro-benchmarks (go test
## -bench, 5 runs), then the harness (bench/README.md) at the issue's
## sizes, three runs each, with a CPU profile of the steady workload.
## 35-45 minutes on 2 cores; BENCH_FLAGS adds or overrides flags (sizes).
BENCH_FLAGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./bench/ ./schemas/
	$(GO) run ./bench -full -cpuprofile bench/results/steady.prof $(BENCH_FLAGS)

## bench-quick: every workload at small sizes, one run (a few minutes).
bench-quick:
	$(GO) run ./bench $(BENCH_FLAGS)

## bench-kafka: the quick harness against a real Kafka broker
## (deploy/kafka/kafka.sh, on ports apart from test-kafka's).
BENCH_KAFKA_DIR ?= $(or $(TMPDIR),/tmp)/stockledger-bench-kafka
bench-kafka:
	$(KAFKA) fetch
	rm -rf $(BENCH_KAFKA_DIR)
	@set -e; $(KAFKA) start --dir $(BENCH_KAFKA_DIR) --port 29092 --controller-port 29093 --sasl-port 29094; \
	  trap '$(KAFKA) stop --dir $(BENCH_KAFKA_DIR)' EXIT; \
	  $(GO) run ./bench -brokers 127.0.0.1:29092 -label kafka $(BENCH_FLAGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeEvent -fuzztime 60s ./schemas/

clean:
	rm -rf bin
