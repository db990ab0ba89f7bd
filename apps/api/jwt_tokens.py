"""Verify JWT bearer tokens against several active signing keys, chosen by the token's `kid`.

Rotation without downtime (roadmap 5.3): publish the new public key next to the old one in
settings.JWT_SIGNING_KEYS, let the issuer switch to the new `kid`, and drop the old entry once its
tokens have expired. Key files are read on every verification, so replacing a file needs no
restart. Only asymmetric algorithms are accepted, each key pinned to one algorithm: a token cannot
choose `none`, or an HMAC "signed" with the public key (HS/RS confusion).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.errors import PortalError

ALGORITHM_KEY_TYPES: dict[str, type] = {"RS256": rsa.RSAPublicKey, "ES256": ec.EllipticCurvePublicKey}
REQUIRED_CLAIMS = ["sub", "tenant", "exp", "iat", "aud"]


class TokenRejected(PortalError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    algorithm: str
    public_key: Any


@lru_cache(maxsize=64)
def _public_key_from_pem(pem: str, algorithm: str) -> Any:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as error:
        raise ImproperlyConfigured(f"a JWT_SIGNING_KEYS entry is not a PEM public key: {error}") from error
    if not isinstance(key, ALGORITHM_KEY_TYPES[algorithm]):
        raise ImproperlyConfigured(f"a JWT_SIGNING_KEYS entry for {algorithm} holds a {type(key).__name__}")
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("ES256 keys must be on the P-256 curve")
    return key


def _verification_key(entry: dict[str, Any]) -> VerificationKey:
    kid, algorithm = entry.get("kid"), entry.get("algorithm")
    if not kid or not isinstance(kid, str):
        raise ImproperlyConfigured("every JWT_SIGNING_KEYS entry needs a kid")
    if algorithm not in ALGORITHM_KEY_TYPES:
        raise ImproperlyConfigured(f"JWT key {kid!r}: algorithm must be one of {sorted(ALGORITHM_KEY_TYPES)}")
    pem = entry.get("public_key")
    if not pem and entry.get("public_key_file"):
        try:
            pem = Path(entry["public_key_file"]).read_text()
        except OSError as error:
            raise ImproperlyConfigured(f"JWT key {kid!r}: cannot read its public_key_file: {error}") from error
    if not pem:
        raise ImproperlyConfigured(f"JWT key {kid!r} needs public_key or public_key_file")
    return VerificationKey(kid=kid, algorithm=algorithm, public_key=_public_key_from_pem(pem, algorithm))


def verification_keys() -> dict[str, VerificationKey]:
    """The active keys by kid, read from settings now (so override_settings and file swaps apply)."""
    keys = [_verification_key(entry) for entry in settings.JWT_SIGNING_KEYS]
    return {key.kid: key for key in keys}


def jwt_claims_verify(token: str) -> dict[str, Any]:
    """The verified claims, or TokenRejected with a code a client can act on."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("invalid_token", "The bearer token is malformed.") from None
    key = verification_keys().get(str(header.get("kid", "")))
    if key is None:
        raise TokenRejected("invalid_token", "The token's signing key (kid) is unknown or retired.")
    if header.get("alg") != key.algorithm:
        raise TokenRejected("invalid_token", f"The token must be signed with {key.algorithm}.")
    try:
        return jwt.decode(
            token,
            key.public_key,
            algorithms=[key.algorithm],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER or None,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("token_expired", "The bearer token has expired.") from None
    except jwt.PyJWTError as error:
        # PyJWT's messages name the failed check (audience, missing claim), never secrets.
        raise TokenRejected("invalid_token", f"The bearer token is invalid: {error}") from None
