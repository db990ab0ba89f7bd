"""Settings shared by every environment. Environment-specific modules import this last-minute.

The settings themselves live by topic in `parts/`, one module per topic; this module only gathers
them, so `from .base import *` in local.py, test.py and production.py sees them all. No setting is
defined in two parts, and a part that needs another part's setting imports it from there, so the
order of the imports below (alphabetical) does not matter. Read the environment through `env` /
`secret` only (see environment.py).
"""

from __future__ import annotations

# BASE_DIR, env and secret stay importable from here, as before the split (test.py uses BASE_DIR).
from .environment import BASE_DIR, env, secret  # noqa: F401
from .parts.answers import *  # noqa: F403 - LLM providers, the answer pipeline
from .parts.api import *  # noqa: F403 - REST framework, OpenAPI, JWT, rate limits
from .parts.application import *  # noqa: F403 - environment, apps, middleware, templates, i18n, static
from .parts.compliance import *  # noqa: F403 - audit trail and archive
from .parts.data_stores import *  # noqa: F403 - tenancy, PostgreSQL, Redis, Neo4j
from .parts.ingestion import *  # noqa: F403 - ingestion limits and jobs, embeddings, entity extraction
from .parts.observability import *  # noqa: F403 - logging, metrics, tracing
from .parts.portal import *  # noqa: F403 - pages, answer streams, Channels
from .parts.processes import *  # noqa: F403 - web server, health, Celery
from .parts.retrieval import *  # noqa: F403 - legs, fusion, caches
from .parts.security import *  # noqa: F403 - secret key, hosts, sign-in, CSP, CORS, cookies, passwords
from .parts.sharding import *  # noqa: F403 - this process's shard, the directory's catalogue
