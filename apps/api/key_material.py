"""What an API key looks like and how its secret is checked.

A key reads `kp_<prefix>_<secret>`: the prefix (public, unique) finds the row, and only a SHA-256
digest of the secret is stored. The secret has 256 bits of entropy, so a fast hash is enough (a
slow password hash protects guessable secrets, which these are not); digests are compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_TAG = "kp"
PREFIX_BYTES = 6
SECRET_BYTES = 32
KEY_BODY = r"_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$"
KEY_PATTERN = re.compile(rf"^{KEY_TAG}{KEY_BODY}")


@dataclass(frozen=True)
class KeyMaterial:
    prefix: str
    secret: str

    @property
    def full_key(self) -> str:
        return self.presented_as(KEY_TAG)

    def presented_as(self, tag: str) -> str:
        return f"{tag}_{self.prefix}_{self.secret}"

    @property
    def secret_hash(self) -> str:
        return secret_digest(self.secret)


def key_material_generate() -> KeyMaterial:
    return KeyMaterial(prefix=secrets.token_hex(PREFIX_BYTES), secret=secrets.token_urlsafe(SECRET_BYTES))


def key_material_parse(presented: str, *, pattern: re.Pattern[str] = KEY_PATTERN) -> KeyMaterial | None:
    """The parts of a presented key (or SCIM token: its own `pattern`), or None when it is not
    shaped like one of ours."""
    match = pattern.match(presented.strip())
    if match is None:
        return None
    return KeyMaterial(prefix=match["prefix"], secret=match["secret"])


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(*, secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), stored_digest)
