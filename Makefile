GO ?= go
BIN := bin/pollchat
ARTIFACTS ?= artifacts
DIST ?= dist
# The version and commit printed by `pollchat -version`: the nearest tag (or
# "dev") and the commit, from git when there is one.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build run test unit bench fuzz vet tidy deps dist clean widget

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Release binaries for linux/amd64 and linux/arm64 (static, no cgo) and
# their SHA256SUMS, in $(DIST)/.
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' \
	    -o $(DIST)/pollchat-$(VERSION)-linux-$$arch . || exit 1; \
	done
	cd $(DIST) && sha256sum pollchat-* > SHA256SUMS && cat SHA256SUMS

# The served widget: minifies assets/widget.js, widget.css and messenger.js
# (terser and clean-css from npm) into assets/dist/, which is committed so
# that `go build` needs no npm. Run it after editing those files; the browser
# tests fail while assets/dist/ is stale.
widget:
	./scripts/widget.sh

run: build
	./scripts/deps.sh run
	./$(BIN) -config config.toml

deps:
	./scripts/deps.sh

vet: tidy
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)

# Fails when `go mod tidy` would change go.mod or go.sum.
tidy:
	@$(GO) mod tidy -diff || (echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1)

# Every test, with the real servers installed and started by the tests.
test: deps vet build
	mkdir -p $(ARTIFACTS)
	POLLCHAT_ARTIFACTS=$(abspath $(ARTIFACTS)) POLLCHAT_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 14m ./...

# Quick tests without real servers (for a fast edit loop).
unit:
	$(GO) test -short -count=1 ./...

# The load benchmark against Nchan (issue 21's table): medians of 3 runs,
# pollchat and Nchan alternating, in bench/results/DATE-COMMIT.{md,jsonl};
# about 25 minutes on 2 cores. `bench/run.sh -quick` for iteration. The Go
# micro-benchmarks and the soak are separate (docs/benchmarks.md).
bench: deps build
	POLLCHAT_BIN=$(abspath $(BIN)) GO=$(GO) ./bench/run.sh

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
	$(GO) test -run '^$$' -fuzz FuzzAcceptEncoding -fuzztime 30s ./server

clean:
	rm -rf bin $(ARTIFACTS) $(DIST)
