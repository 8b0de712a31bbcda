# Shangji: two commands on a fresh machine.
#   make run    install what is missing, build, start nats-server + the six services
#   make test   install what is missing, build, run every test (make lint: fmt, clippy, deploy checks)
# Other targets: build, lint, fmt, bench, clean.

PROFILE ?= release
CARGO ?= cargo
BIN_DIR := target/$(PROFILE)
ifeq ($(PROFILE),debug)
  PROFILE_FLAG :=
else
  PROFILE_FLAG := --profile $(PROFILE)
endif

.PHONY: run test build tools lint lint-deploy fmt bench clean

tools:
	@bash deploy/install-tools.sh

build: tools
	$(CARGO) build --workspace --bins $(PROFILE_FLAG)

run: build
	SHANGJI_BIN_DIR=$(BIN_DIR) bash deploy/run-local.sh

lint: lint-deploy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Offline validation of deploy/ and k8s/: Dockerfile, compose, every Kustomize overlay
# rendered and schema-checked against the Kubernetes API, our own rules, alerts, dashboard.
lint-deploy: tools
	@bash deploy/k8s-check/check.sh

# The end-to-end tests start the service binaries, so build them first.
# RUST_LIB_BACKTRACE=0: a test that returns an error prints the error and its causes
# last, not buried above a 40-frame backtrace (panics still show theirs).
test: tools
	$(CARGO) build --workspace --bins
	@export RUST_LIB_BACKTRACE=0; if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc

fmt:
	$(CARGO) fmt --all

# Load generator against a running system (make run in another terminal).
bench:
	$(BIN_DIR)/shangji bench --leads $${LEADS:-10000} --concurrency $${CONCURRENCY:-64}

clean:
	$(CARGO) clean
