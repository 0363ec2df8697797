GO ?= go
BIN := bin/pollchat
ARTIFACTS ?= artifacts

.PHONY: build run test unit bench fuzz vet deps clean

build:
	$(GO) build -o $(BIN) .

run: build
	./scripts/deps.sh run
	./$(BIN) -config config.toml

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)

# Every test, with the real servers installed and started by the tests.
test: deps vet build
	mkdir -p $(ARTIFACTS)
	POLLCHAT_ARTIFACTS=$(abspath $(ARTIFACTS)) POLLCHAT_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 12m ./...

# Quick tests without real servers (for a fast edit loop).
unit:
	$(GO) test -short -count=1 ./...

# Go benchmarks, then the load benchmark against Nchan (bench/run.sh;
# `bench/run.sh -full` for the issue's medians of 3 runs).
# Go benchmarks (hub, store, bridge, cluster 1 vs 3 processes), the long
# soak (2,000 users, every message checked), then the load generator
# against Nchan (docs/benchmarks.md).
bench: deps build
	POLLCHAT_BIN=$(abspath $(BIN)) $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...
	POLLCHAT_SOAK=long POLLCHAT_BIN=$(abspath $(BIN)) $(GO) test -count=1 -run TestSoak -timeout 20m -v ./e2e
	ARTIFACTS=$(abspath $(ARTIFACTS)) POLLCHAT_BIN=$(abspath $(BIN)) GO=$(GO) ./bench/run.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCallback -fuzztime 30s ./server
	$(GO) test -run '^$$' -fuzz FuzzLegacyHash -fuzztime 30s ./bridge
	$(GO) test -run '^$$' -fuzz FuzzToken -fuzztime 30s ./bridge
	$(GO) test -run '^$$' -fuzz FuzzUsersInfo -fuzztime 30s ./bridge
	$(GO) test -run '^$$' -fuzz FuzzPHPCapabilities -fuzztime 30s ./bridge
	$(GO) test -run '^$$' -fuzz FuzzConfig -fuzztime 30s ./config
	$(GO) test -run '^$$' -fuzz FuzzCommand -fuzztime 30s ./chat
	$(GO) test -run '^$$' -fuzz FuzzWordMask -fuzztime 30s ./chat
	$(GO) test -run '^$$' -fuzz FuzzAPIBody -fuzztime 30s ./server

clean:
	rm -rf bin $(ARTIFACTS)
