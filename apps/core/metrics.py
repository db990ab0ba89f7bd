"""Prometheus metrics shared across apps (defined once per process: prometheus_client refuses
duplicate names)."""

from prometheus_client import Counter

cache_hits_total = Counter("cache_hits_total", "Cache hits by cache type", ["cache_type"])
cache_misses_total = Counter("cache_misses_total", "Cache misses by cache type", ["cache_type"])
