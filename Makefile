# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:
	@echo "make run    install what is missing, start a loopback NATS and Janus if none is listening, run the daemon"
	@echo "make test   install what is missing, build, run every test (unit and integration)"
	@echo "make build  compile TypeScript to dist/"
	@echo "make deps   install npm packages and, when absent, Debian's janus and nats-server"
	@echo "make bench  build, start a loopback Janus and nats-servers, measure, write bench-results/latest.json"

deps: node_modules/.installed
	@bash scripts/install-system-deps.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed
	npm run build

run: deps build
	@bash scripts/run-local.sh config/example.json

test: deps
	npm test

bench: deps build
	npm run bench

.PHONY: help deps build run test bench
