# actorhub — see README.md. `make run` and `make test` are the two commands a newcomer needs.
SHELL     := /bin/bash
GO        ?= go
BIN       := bin/actorhub
PKGS      := ./...
# an exec count, not a duration: go1.26 fails a duration-bounded run at its deadline with
# "context deadline exceeded" and no crasher (golang/go#75804, fixed in go1.27)
FUZZTIME  ?= 30000x
# every seeded fuzz target: package:Target
FUZZ_TARGETS := ./cluster:FuzzDecodeBatch ./cluster:FuzzRemotePort ./events:FuzzDecodeFrame ./events:FuzzDecodeInboundFast ./events:FuzzChunkFoldFast ./events:FuzzNormalizeData ./events:FuzzDecodeEvent \
	./transport:FuzzDecodeEventsBody ./transport:FuzzDecodeWorkerFrame ./transport:FuzzWebSocketFrames ./persistence:FuzzDecodeSnapshot ./persistence:FuzzDecodeJournal ./client:FuzzClientDecode ./actors:FuzzDecodeMsg

.PHONY: run demo build test race lint vet fmt tidy fuzz bench chaos clean proto failover cluster js js-test generate

## run: one node, embedded store, demo worker; open http://127.0.0.1:8080/
run: build
	@echo "actorhub: open http://127.0.0.1:8080/ (Ctrl-C stops the node)"
	./$(BIN) serve --demo --store bolt:./data/actorhub.db --http 127.0.0.1:8080

## demo: three nodes on a private Redis, the demo model as its own process (scripts/run-demo.sh; DEMO_ARGS="--kill-after 20s")
demo:
	./scripts/run-demo.sh $(DEMO_ARGS)

build:
	$(GO) build -o $(BIN) ./cmd/actorhub

## test: vet, format check, the client's npm packages (the Go test of the bundles in demo/ reads them), the whole
## suite under -race, every fuzz target briefly, then the JS client (its typecheck, node:test suites against real
## nodes, and the pages in Debian's chromium)
test: build vet fmt js
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)
	cd clients/js && npm test && npm run test:browser

## js: install the client's npm packages (lockfile) and build it
js:
	cd clients/js && npm ci --no-audit --no-fund

js-test: build js
	cd clients/js && npm test && npm run test:browser

## generate: regenerate what is generated and committed (the client's protocol types, the page's bundle)
generate:
	$(GO) generate ./events ./demo

race:
	$(GO) test -race -count=1 $(PKGS)

## vet: go vet, here and as built for Windows and macOS (the binary and its tests build there too)
vet:
	$(GO) vet $(PKGS)
	GOOS=windows $(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)

fmt:
	@out=$$(gofmt -s -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt -s would change:"; echo "$$out"; exit 1; fi

lint: vet fmt tidy
	$(GO) tool staticcheck $(PKGS)

## tidy: fail when go.mod or go.sum is not what `go mod tidy` would write
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result" >&2; exit 1; }

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: Go benchmarks, then `actorhub bench` at the Socket.IO baseline's loads (see docs/BENCHMARKS.md)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	./scripts/bench.sh

clean:
	rm -rf bin data

## proto: regenerate cluster/clusterpb from envelope.proto (protoc from Debian's protobuf-compiler, protoc-gen-go pinned in go.mod)
proto:
	command -v protoc >/dev/null || { echo "make proto needs protoc: apt-get install protobuf-compiler"; exit 1; }
	$(GO) build -o bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	protoc --plugin=protoc-gen-go=bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative cluster/clusterpb/envelope.proto

## failover: kill -9 the owner of streaming jobs 20 times (3 nodes, real redis) and print the stall percentiles
failover:
	set -o pipefail; ACTORHUB_NODES=$${NODES:-3} ACTORHUB_KILLS=$${KILLS:-20} ACTORHUB_FAILOVER_OUT=$${OUT:-/dev/null} $(GO) test -count=1 -timeout 30m -v -run 'TestFailoverStall$$' ./internal/e2e/ | grep -E 'failover_test|^(ok|FAIL|---)'

## cluster: the full cluster tests (kill -9, SIGSTOP, join + rolling restart, busy nodes, failover stall) under -race, then busy nodes and failover on ten nodes
cluster:
	set -o pipefail; ACTORHUB_BUSY_SECONDS=20 ACTORHUB_KILLS=$${KILLS:-20} $(GO) test -race -count=1 -p 1 -timeout 30m -v -run 'TestCluster|TestFailoverStall' ./internal/e2e/ | grep -E '^(ok|FAIL|---|\s+\w+_test)'
	@echo "ten nodes (without -race: ten race-instrumented nodes would measure the race detector on two cores)"
	set -o pipefail; ACTORHUB_NODES=10 ACTORHUB_BUSY_SECONDS=20 ACTORHUB_KILLS=$${KILLS10:-10} $(GO) test -count=1 -p 1 -timeout 30m -v -run 'TestClusterBusyNodesStayAlive|TestFailoverStall' ./internal/e2e/ | grep -E '^(ok|FAIL|---|\s+\w+_test)'

## chaos: 5 minutes of every fault kind on 3 nodes (SEED=…, DURATION=…); report and timeline in results/chaos-<seed>/
chaos: build
	./$(BIN) chaos --duration $${DURATION:-5m} --every 5s --seed $${SEED:-1} --out results/chaos-$${SEED:-1}
