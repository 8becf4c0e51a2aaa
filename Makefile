# lansd: build and test entry points. `make test` is the one command that
# installs every test dependency and runs every test (CI calls it).

GO ?= go

.PHONY: build test deps unit fuzz vet cross

# Static, without cgo: lansd needs none, and an idle daemon is smaller.
build:
	CGO_ENABLED=0 $(GO) build -o bin/lansd ./cmd/lansd

# Installs what the tests need (Debian packages), then vet, every test, and a
# short run of every fuzz target.
test:
	./scripts/test.sh

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...

# Builds and vets every package, test files included, for darwin, freebsd
# and windows (amd64 and arm64): README "Platforms".
cross:
	./scripts/cross.sh

unit:
	$(GO) test -count=1 ./...

fuzz:
	./scripts/fuzz.sh
