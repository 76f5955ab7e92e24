# udm-proxies: `make` builds, `make test` installs what tests need and runs
# them all, `make demo` shows the proxies in a simulated UniFi network.
SHELL := /bin/bash
UVU := node_modules/.bin/uvu -r esbuild-register test '\.test\.ts$$' -i e2e

.PHONY: all build setup test test-unit test-e2e demo bench lint clean deploy

all: build

setup:
	@sh scripts/setup.sh

node_modules/.package-lock.json: package-lock.json
	@sh scripts/setup.sh

build: node_modules/.package-lock.json
	node scripts/build.mjs

# Unit tests, then end-to-end tests in network namespaces (root), including
# the arm64 executables under qemu-user; one summary line at the end.
test: setup build lint
	@bash scripts/test.sh

test-unit: node_modules/.package-lock.json
	$(UVU)

test-e2e: build
	@bash scripts/test.sh --e2e-only

demo: setup build
	@bash scripts/demo.sh

bench: setup build
	@bash scripts/bench.sh

lint: node_modules/.package-lock.json
	node_modules/.bin/tsc --noEmit
	shellcheck -x $(wildcard scripts/*.sh test/e2e/*.sh on_boot.d/*.sh) .ci/run

clean:
	rm -rf dist .cache
