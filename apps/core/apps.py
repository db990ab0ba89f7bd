from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Every process (web, worker, command) traces from the start: the Django instrumentation
        # must be in place before the first request builds the middleware chain.
        from .observability.tracing import tracing_configure

        tracing_configure()
