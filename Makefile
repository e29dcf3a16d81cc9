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

## fuzz: a short run of every fuzz target.
fuzz:
	$(GO) test -run XXX -fuzz FuzzParseSetJSON -fuzztime 30s ./bridge/
	$(GO) test -run XXX -fuzz FuzzParseStatus -fuzztime 30s ./drivers/goe/
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 30s ./bridge/config/
	$(GO) test -run XXX -fuzz FuzzV1ParseStatus -fuzztime 30s ./drivers/goe/
	$(GO) test -run XXX -fuzz FuzzParseStatus -fuzztime 30s ./drivers/openevse/
	$(GO) test -run XXX -fuzz FuzzParseProps -fuzztime 30s ./drivers/openevse/
	$(GO) test -run XXX -fuzz FuzzParseVitals -fuzztime 30s ./drivers/tesla/
	$(GO) test -run XXX -fuzz FuzzDecodeBlock -fuzztime 30s ./drivers/modbusx/
	$(GO) test -run XXX -fuzz FuzzDecodeModel -fuzztime 30s ./drivers/sunspec/
	$(GO) test -run XXX -fuzz FuzzParseEMStatus -fuzztime 30s ./drivers/shelly/
	$(GO) test -run XXX -fuzz FuzzReading -fuzztime 30s ./drivers/httpmeter/
	$(GO) test -run XXX -fuzz FuzzPayload -fuzztime 30s ./drivers/mqttmeter/

## bench: the benchmarks whose numbers go into issue notes.
bench:
	$(GO) test -run XXX -bench . -benchtime 1x ./bridge/

demo:
	$(GO) run ./cmd/evbridge demo
