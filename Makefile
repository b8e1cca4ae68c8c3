# The two commands a new user types are `make demo` and `make test`; each builds .venv by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml layers/marketing/pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: demo test bench soak synth layer lock clean

# Installs the exact versions in constraints.txt (moto is emulated through a few of its internals,
# so an unpinned release can change what the suite runs against); `make lock` moves them forward.
$(STAMP): pyproject.toml layers/marketing/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -c constraints.txt -e layers/marketing -e ".[dev,cdk]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/marketing demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run

# The fault soak at four times the suite's size (tests/integration/test_fault_soak.py; SOAK_SEED to vary it).
soak: $(STAMP)
	SOAK_EVENTS=$${SOAK_EVENTS:-20000} $(BIN)/python -m pytest tests/integration/test_fault_soak.py -s

# The newest releases pyproject.toml admits, installed in a scratch venv and written to constraints.txt;
# run `make test` after it and commit both.
lock:
	rm -rf build/lock && $(PY) -m venv build/lock
	build/lock/bin/python -m pip install -q -U pip
	build/lock/bin/python -m pip install -q -e layers/marketing -e ".[dev,cdk]"
	{ sed -n '1,2p' constraints.txt; build/lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf build/lock

clean:
	rm -rf $(VENV) cdk.out build .marketing

# --- infrastructure (infra/README.md) ---------------------------------------------------------
# The CDK CLI is pinned and installed locally (npm registry only); the app synthesizes offline.
CDK_VERSION := 2.1148.1
CDK := .cdk/node_modules/.bin/cdk
CDK_STAMP := .cdk/.installed-$(CDK_VERSION)
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true AWS_EC2_METADATA_DISABLED=true \
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

$(CDK_STAMP):
	npm install --prefix .cdk --no-audit --no-fund --loglevel=error aws-cdk@$(CDK_VERSION)
	rm -f .cdk/.installed-*
	touch $(CDK_STAMP)

# The shared Lambda layer with its runtime dependencies (Linux x86_64 wheels): run before `cdk deploy`.
layer: $(STAMP)
	$(BIN)/python infra/build_layer.py

# cdk.out from the CDK app with cdk-nag on; without `make layer` it packs a dependency-free layer.
synth: $(STAMP) $(CDK_STAMP)
	$(CDK_ENV) $(CDK) synth --no-notices --quiet
