"""Sealed values: AES-256-GCM under a tenant data key, each naming the key and the column it was sealed for.

Layout: MARK, the key id (16 bytes), a random nonce (12 bytes), ciphertext and tag. Text columns
hold the same bytes after the mark in base64. The column label is authenticated data, so a value
moved to another column does not open. A value without the mark was stored before encryption was
turned on and is returned as it is until `rotate_tenant_key` seals it.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid

from cryptography.exceptions import InvalidTag

from .keys import DataKey, opening_key

BYTES_MARK = b"\x01pk1:"
TEXT_MARK = BYTES_MARK.decode("ascii")
_KEY_ID_BYTES, _NONCE_BYTES = 16, 12


class SealedValueCorrupt(Exception):
    """A sealed value does not open: it was altered, truncated or moved from another column."""


def _sealed_body(plain: bytes, *, key: DataKey, column: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return key.key_id.bytes + nonce + key.aead.encrypt(nonce, plain, column.encode())


def _opened_body(body: bytes, *, schema_name: str, column: str) -> bytes:
    if len(body) < _KEY_ID_BYTES + _NONCE_BYTES + 16:
        raise SealedValueCorrupt(f"a sealed value of {column} is truncated")
    key = opening_key(uuid.UUID(bytes=body[:_KEY_ID_BYTES]), schema_name)
    nonce = body[_KEY_ID_BYTES : _KEY_ID_BYTES + _NONCE_BYTES]
    try:
        return key.aead.decrypt(nonce, body[_KEY_ID_BYTES + _NONCE_BYTES :], column.encode())
    except InvalidTag as error:
        raise SealedValueCorrupt(f"a sealed value of {column} does not open with its key (altered or moved)") from error


def bytes_seal(plain: bytes, *, key: DataKey, column: str) -> bytes:
    return BYTES_MARK + _sealed_body(plain, key=key, column=column)


def bytes_open(stored: bytes, *, schema_name: str, column: str) -> bytes:
    if not stored.startswith(BYTES_MARK):
        return stored
    return _opened_body(stored[len(BYTES_MARK) :], schema_name=schema_name, column=column)


def text_seal(plain: str, *, key: DataKey, column: str) -> str:
    body = _sealed_body(plain.encode("utf-8"), key=key, column=column)
    return TEXT_MARK + base64.b64encode(body).decode("ascii")


def text_open(stored: str, *, schema_name: str, column: str) -> str:
    if not stored.startswith(TEXT_MARK):
        return stored
    try:
        body = base64.b64decode(stored[len(TEXT_MARK) :], validate=True)
    except (binascii.Error, ValueError) as error:
        raise SealedValueCorrupt(f"a sealed value of {column} is not base64") from error
    return _opened_body(body, schema_name=schema_name, column=column).decode("utf-8")


def sealing_key_id(stored: str | bytes | memoryview) -> uuid.UUID | None:
    """The id of the key that sealed a stored value; None for a value stored in the clear."""
    if isinstance(stored, str):
        if not stored.startswith(TEXT_MARK):
            return None
        head = base64.b64decode(stored[len(TEXT_MARK) : len(TEXT_MARK) + 24])
        return uuid.UUID(bytes=head[:_KEY_ID_BYTES])
    raw = bytes(stored[: len(BYTES_MARK) + _KEY_ID_BYTES])
    if not raw.startswith(BYTES_MARK):
        return None
    return uuid.UUID(bytes=raw[len(BYTES_MARK) :])
