from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"
    verbose_name = "Integration API"

    def ready(self) -> None:
        from apps.accounts.directory import user_access_ended
        from apps.core.process_cache import process_cache_invalidated_by

        from .models import ApiKey
        from .scim.tokens import scim_tokens_revoke_made_by
        from .services import revoke_keys_when_access_ends

        user_access_ended.connect(revoke_keys_when_access_ends, dispatch_uid="api.revoke_keys_when_access_ends")
        user_access_ended.connect(scim_tokens_revoke_made_by, dispatch_uid="api.scim_tokens_revoke_made_by")

        # api_key_mark_used writes with update(): no signal, so using a key does not invalidate.
        process_cache_invalidated_by(ApiKey)
