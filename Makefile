# The README's two commands are `make up` and `make test`; everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# LocalStack: install, start, stop, its own tests and benchmark (LOCALSTACK_PORT,
# LOCALSTACK_ENDPOINT, VENV_TOOLS, targets `tools`, `localstack`, `down`, ...).
include localstack/localstack.mk

STACK_NAME ?= orders-pipeline
TOOLS_BIN := $(VENV_TOOLS)/bin
export LOCALSTACK_ENDPOINT STACK_NAME
FN ?= orders-api
QUEUE ?= inventory

.PHONY: help check up build deploy seed token demo bench sim shard-bench calls-per-order flash-sale soak dlq redrive logs api-watch clean test test-rust lint-python lint-template e2e flake-hunt mutants api-contract deploy-aws fmt

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

up: ## run the whole system locally: LocalStack, build, deploy, seed, place an order and follow it
	@scripts/make/up.sh

build: ## build every function for the host and stage .build/lambda/<fn>/bootstrap
	@scripts/make/build-functions.sh

deploy: tools localstack build ## package and deploy infra/template.yaml to LocalStack
	@TOOLS_BIN=$(TOOLS_BIN) scripts/make/deploy-local.sh

seed: ## put demo stock through the API
	@$(TOOLS_BIN)/python scripts/ops/demo.py --seed-only

token: USER ?= demo-customer
token: ## an access token of the local user pool for USER (demo-customer; operator may set stock): curl -H "Authorization: Bearer $$(make -s token)"
	@$(TOOLS_BIN)/python scripts/ops/user_token.py $(USER)

demo: ## place an order through the API and follow it to the end
	@$(TOOLS_BIN)/python scripts/ops/demo.py

bench: deploy ## the pipeline against the emulator's own ceiling, per-function init/RSS/zip; writes docs/bench/ (QUICK=1: fewer samples)
	@cd scripts/measure && ../../$(TOOLS_BIN)/python -m bench $(if $(QUICK),--quick)

sim: tools ## simulated hot-SKU reservations on DynamoDB over 1, 4 and 16 stock shards: docs/hot-sku-sim.png and the tables in docs/hot-sku-sim.md
	$(TOOLS_BIN)/python scripts/measure/hot_sku_sim.py --shards 1,4,16 --out docs/hot-sku-sim.png --table docs/hot-sku-sim.md

shard-bench: ## the hot-SKU shapes on LocalStack (1, 4, 16 shards, the reserve code against the conflict model) next to make sim's model: docs/hot-sku-localstack.png
	@$(TOOLS_BIN)/python scripts/measure/shard_bench.py

calls-per-order: N ?= 50
calls-per-order: ## calls and cost per order (WRU/RRU per function and table, publishes, SQS, invocations, log bytes, dollars per million), confirmed, rejected and cancelled, on the stack make up deployed: N=50; CHECK=1 fails over docs/cost-budget.json; docs/capacity.md
	@$(TOOLS_BIN)/python scripts/measure/calls_per_order.py --orders $(N) $(if $(CHECK),--check-budget)

flash-sale: N ?= 300
flash-sale: CLIENTS ?= 32
flash-sale: UNITS ?= 100
flash-sale: SHARDS ?= 1
flash-sale: FAULTS ?= 0
flash-sale: ## a burst nobody planned for, through the API: N=300 CLIENTS=32 UNITS=100 SHARDS=1 FAULTS=0 (report and plot: .build/flash-sale/); fails on any order left undecided, DLQ growth or oversell
	@cd scripts/measure && ../../$(TOOLS_BIN)/python -m flash_sale --orders $(N) --clients $(CLIENTS) --units $(UNITS) --shards $(SHARDS) --faults $(FAULTS)

soak: N ?= 1000
soak: FAULTS ?= 0.1
soak: SEED ?= 1
soak: ## chaos soak of the deployed stack: N=1000 FAULTS=0.1 SEED=1 (report: .build/soak/report.html)
	@cd scripts/measure && ../../$(TOOLS_BIN)/python -m soak --n $(N) --faults $(FAULTS) --seed $(SEED)

# The operator commands act on the local stack, or with PROFILE=, REGION= or STACK= on a
# deployed one, with the caller's own credentials (scripts/ops/ops_target.py).
OPS_TARGET = $(if $(PROFILE),--profile $(PROFILE)) $(if $(REGION),--region $(REGION)) $(if $(STACK),--stack $(STACK))

dlq: ## every dead-letter queue: depth and a few messages with their first failure (PROFILE= REGION= STACK= for AWS)
	@$(TOOLS_BIN)/python scripts/ops/redrive.py $(if $(SHOW),--show $(SHOW)) $(OPS_TARGET)

redrive: ## move a consumer's DLQ messages back to its queue: make redrive QUEUE=inventory (RATE=10/s; PROFILE= REGION= STACK=)
	@$(TOOLS_BIN)/python scripts/ops/redrive.py --queue $(QUEUE) $(if $(RATE),--rate $(RATE)) $(OPS_TARGET)

logs: ## follow a function's CloudWatch logs: make logs FN=inventory (PROFILE= REGION= STACK=)
	@$(TOOLS_BIN)/python scripts/ops/logs.py --function $(FN) --follow $(OPS_TARGET)

api-watch: ## the API function served as plain HTTP on :9000, rebuilt on save, against what make up deployed
	@scripts/make/api-watch.sh

test: ## every test: fmt, clippy, unit, LocalStack extension, adapters, template lint, end-to-end
	@scripts/make/test-all.sh

check: test-rust lint-python ## the inner loop, no LocalStack: fmt, clippy, unit tests, Python lint, the tools' tests
	@$(TOOLS_BIN)/pytest -q tests/tools --deselect tests/tools/test_external_emulator.py

test-rust: ## fmt check, clippy -D warnings, unit tests (no LocalStack needed)
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo test --locked --workspace

lint-python: tools ## ruff (lint, format check) and mypy over the project's Python (pyproject.toml)
	@TOOLS_BIN=$(TOOLS_BIN) scripts/make/lint-python.sh

lint-template: tools ## cfn-lint infra/template.yaml (zero errors and warnings)
	$(TOOLS_BIN)/cfn-lint infra/template.yaml

api-contract: deploy ## the deployed API fuzzed against infra/openapi.yaml (schemathesis; SEED=1 EXAMPLES=25)
	scripts/make/api-contract.sh

mutants: ## mutation testing (cargo-mutants, pinned) of the domain and libs/aws's decision code: the score and every surviving mutant (.build/mutants/)
	@scripts/make/mutants.sh $(ARGS)

flake-hunt: N ?= 10
flake-hunt: deploy ## the live stages of make test N times (N=10, STAGES=e2e,...) on one stack: per test how often it failed and why (.build/flake-hunt/report.md)
	@$(TOOLS_BIN)/python scripts/make/flake_hunt.py --rounds $(N) $(if $(STAGES),--stages $(STAGES))

e2e: deploy ## end-to-end tests against the deployed stack (side by side, then the serial ones: scripts/make/e2e.sh)
	@scripts/make/e2e.sh

fmt: ## format the Rust code
	cargo fmt --all

clean: down ## stop everything and remove build outputs and LocalStack state (keeps target/)
	rm -rf .build .localstack

deploy-aws: ## cross-compile for arm64 with cargo lambda and deploy to your AWS account (see README)
	@scripts/ops/deploy-aws.sh
