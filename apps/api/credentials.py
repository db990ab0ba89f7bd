"""What a request authenticated with: `request.auth` for every API view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Credential:
    kind: str  # "api_key" | "jwt" | "session"
    # The scopes the credential carries; None means "whatever the user may do" (session, JWT without `scope`).
    scopes: frozenset[str] | None
    # Who a rate-limit bucket belongs to: the key itself, or the user.
    rate_principal: str
    api_key_id: int | None = None
    # A key's own quotas (route class -> {"capacity", "refill_per_second"}).
    rate_limits: dict | None = None
    # When the credential stops working (a key's expiry, a token's exp); None: it does not expire.
    expires_at: datetime | None = None
    # A key acting as someone other than its creator: the creator's id. Keys this key mints are the
    # creator's too, so the delegation rule keeps following the person behind them.
    delegated_by: int | None = None

    def allows(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes
