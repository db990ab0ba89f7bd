"""Signing keys and JWTs for the tests, as an identity provider would make them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "knowledge-portal-api"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: Any

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def setting(self) -> dict[str, str]:
        return {"kid": self.kid, "algorithm": self.algorithm, "public_key": self.public_pem}


@cache
def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@cache
def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def claims(*, sub: str, tenant: str, lifetime: int = 300, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "tenant": tenant, "aud": AUDIENCE, "iat": now, "exp": now + lifetime, **extra}


def token(key: SigningKey, payload: dict[str, Any], *, headers: dict | None = None) -> str:
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(payload: dict[str, Any], *, kid: str) -> str:
    """alg "none": no signature at all."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hmac_with_public_key_token(key: SigningKey, payload: dict[str, Any]) -> str:
    """The HS/RS confusion attack: HS256 keyed with the (public) RSA key's PEM text."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = hmac.new(key.public_pem.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"
