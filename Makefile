# The README's two commands are `make up` and `make test`; everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help

include localstack/localstack.mk

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'
