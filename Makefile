# udm-proxies: `make` builds, `make test` installs what tests need and runs
# them all, `make demo` shows the proxies in a simulated UniFi network.
SHELL := /bin/bash
# make test-unit DIR=test/udp-proxy: the unit tests of one folder (test/ mirrors src/).
DIR ?= test
UVU := node_modules/.bin/uvu -r esbuild-register $(DIR) '\.test\.ts$$' -i e2e

.PHONY: all build setup test test-unit test-e2e test-device demo bench fuzz lab lint clean deploy release

all: build

setup:
	@sh scripts/dev/setup.sh

node_modules/.package-lock.json: package-lock.json
	@sh scripts/dev/setup.sh

build: node_modules/.package-lock.json
	node scripts/build/build.mjs

# make release [VERSION=v0.2.0]: build, then dist/release/, a release's download
# folder (gzipped executables, install.sh carrying their checksums, SHA256SUMS),
# the same bytes from any clean clone of the same commit. Signing is separate:
# RELEASE_SIGNING_KEY=<PEM> node scripts/build/sign-release.mjs dist/release
VERSION ?=
release: node_modules/.package-lock.json
	node scripts/build/release.mjs $(if $(VERSION),--version $(VERSION))

# Unit tests, then end-to-end tests in network namespaces (root), including
# the arm64 executables under qemu-user; one summary line at the end.
test: setup build lint
	@bash scripts/dev/test.sh

test-unit: node_modules/.package-lock.json
	$(UVU)

test-e2e: build
	@bash scripts/dev/test.sh --e2e-only

# Property tests of every decoder, longer and from a new seed (printed; SEED=N replays it),
# then a live flood of every daemon in its lab, one table each (root, ~3 min).
SEED ?=
fuzz: setup build
	@SEED=$(SEED) bash scripts/dev/fuzz.sh

# The arm64 executables on an arm64 VM like the gateway (test/lab/vm/): the four
# proxies at work, reboots and a firmware update. The image is built once into
# .cache/vm/ (about 5 minutes); `make test` runs this too.
test-device: setup build
	@bash scripts/dev/test.sh --e2e-only device

demo: setup build
	@bash scripts/dev/demo.sh

bench: build
	@sh scripts/dev/setup.sh --bench
	@bash scripts/dev/bench.sh

# make lab TOPO=ssdp-proxy: one lab of test/lab/ brought up by hand with its proxies
# running (built first if needed), until Ctrl-C; it prints how to enter the namespaces.
TOPO ?=
lab: node_modules/.package-lock.json
	@bash test/lab/up.sh $(TOPO)

lint: node_modules/.package-lock.json
	node_modules/.bin/tsc --noEmit
	shellcheck -x $(wildcard scripts/dev/*.sh scripts/dev/fuzz/*.sh scripts/dev/bench/*.sh scripts/gateway/*.sh test/e2e/*.sh test/lab/*.sh test/lab/vm/*.sh test/lab/vm/guest/*.sh) .ci/run
	shellcheck -x -s sh scripts/gateway/udm-proxies on_boot.d/10-proxy.sh.in
	sh scripts/dev/lint-workflows.sh

clean:
	rm -rf dist .cache

# ---- On a gateway over ssh (issue 7) ----
# make deploy HOST=udm [PROXY=mld-proxy] [ARGS="eth9 br0"]: build, copy the executable,
# SHA256SUMS and the installer in one ssh connection (tar, so no sftp or scp is needed on
# the gateway), and install from those files. make logs / make status HOST=udm.
# SSH_OPTS: extra ssh options (e.g. -i KEY -p 2222); DEPLOY_ARCH: linux-arm64 or
# linux-x64; DEPLOY_ROOT: a root prefix on the host, for the tests only.
HOST ?=
PROXY ?= mld-proxy
ARGS ?=
SSH_OPTS ?=
DEPLOY_ARCH ?= linux-arm64
DEPLOY_ROOT ?=
DEPLOY_SSH = ssh $(SSH_OPTS) $(HOST)
DEPLOY_MANAGER = $(DEPLOY_ROOT)/data/udm-proxies/udm-proxies

.PHONY: deploy logs status deploy-need-host

deploy-need-host:
	@test -n "$(HOST)" || { echo 'ERROR: no HOST; run: make $(MAKECMDGOALS) HOST=udm (any ssh destination, e.g. root@192.168.1.1)' >&2; exit 1; }

deploy: deploy-need-host build
	@set -e; stage=$$(mktemp -d); trap 'rm -rf "$$stage"' EXIT; \
	grep ' $(PROXY)-$(DEPLOY_ARCH)$$' dist/SHA256SUMS >"$$stage/SHA256SUMS" || { \
	  echo 'ERROR: dist/$(PROXY)-$(DEPLOY_ARCH) was not built; is $(PROXY) a proxy (src/bin/$(PROXY).ts)?' >&2; exit 1; }; \
	ln -s "$(CURDIR)/dist/$(PROXY)-$(DEPLOY_ARCH)" "$$stage/"; \
	cp dist/install.sh dist/udm-proxies dist/10-proxy.sh.in "$$stage/"; \
	(cd "$$stage" && sha256sum install.sh udm-proxies 10-proxy.sh.in >>SHA256SUMS); \
	echo "deploy: $(PROXY)-$(DEPLOY_ARCH) to $(HOST)"; \
	tar -C "$$stage" -chf - . | $(DEPLOY_SSH) 'set -e; d=$$(mktemp -d /tmp/udm-proxies-deploy.XXXXXX); \
	  trap "rm -rf $$d" EXIT; tar -xf - -C "$$d"; \
	  ROOT=$(DEPLOY_ROOT) UDM_PROXIES_FROM="$$d" sh "$$d/install.sh" $(PROXY) $(ARGS)'

logs: deploy-need-host
	ssh $(SSH_OPTS) -t $(HOST) $(DEPLOY_MANAGER) logs $(PROXY)

status: deploy-need-host
	$(DEPLOY_SSH) $(DEPLOY_MANAGER) status $(PROXY)
