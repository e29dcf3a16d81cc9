# The README's commands. `make test` is what CI runs.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: test build lint fuzz bench demo

## test: vet, every test with the race detector (needs mosquitto on PATH),
## then the year-long solar replay, which is too slow under -race.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 10m -run 'TestReplayYear' ./bridge/solar/

## build: the static binary the Dockerfile builds.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/evbridge ./cmd/evbridge

## lint: formatting and staticcheck.
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && false)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 ./...

## fuzz: a short run (FUZZTIME each) of every fuzz target in the tree,
## found with go test -list, so a new one is never left out.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the benchmarks whose numbers go into issue notes.
bench:
	$(GO) test -run XXX -bench . -benchtime 1x ./bridge/

demo:
	$(GO) run ./cmd/evbridge demo
