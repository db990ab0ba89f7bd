"""Backup archives sealed under the tenant's data key, so a deleted tenant's backups cannot be read.

Each archive gets a fresh random file key, wrapped by the tenant's active data key. Layout:

    MAGIC
    {"format": 1, "key_id": <the data key that wraps the file key>, "key_ids": [<the keys the
     tenant's values were sealed under when the backup was made: the dump needs them>]}\\n
    the wrapped file key (nonce, key, tag: 60 bytes)
    chunks: 4-byte length, nonce, ciphertext and tag of up to CHUNK_BYTES of the archive

Each chunk is authenticated with its number and whether it is the last, so chunks cannot be
reordered or dropped and a file cut short does not open. Streamed through files, never held whole
in memory. Deleting the tenant deletes its keys, and with them every way to open the file key.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apps.tenants.encryption.keys import DataKeyUnavailable, sealing_key, stored_data_key, tenant_live_key_ids

MAGIC = b"portal sealed backup 1\n"
CHUNK_BYTES = 1 << 20
_NONCE = 12
_WRAPPED_FILE_KEY = _NONCE + 32 + 16
_FILE_KEY_CONTEXT = b"portal backup file key"


class SealedArchiveError(Exception):
    """A sealed archive cannot be opened: its key is gone, or the file is damaged or not one."""


def _chunk_context(number: int, last: bool) -> bytes:
    return struct.pack(">Q?", number, last)


def archive_seal(source: Path, target: Path, *, schema_name: str) -> dict[str, Any]:
    """Seal `source` into `target` under the tenant's active data key; returns the clear header."""
    tenant_key = sealing_key(schema_name)
    header = {
        "format": 1,
        "key_id": str(tenant_key.key_id),
        "key_ids": sorted(str(key_id) for key_id in tenant_live_key_ids(schema_name)),
    }
    file_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    wrapped = nonce + tenant_key.aead.encrypt(nonce, file_key, _FILE_KEY_CONTEXT)
    sealer = AESGCM(file_key)
    with source.open("rb") as plain, target.open("wb") as out:
        out.write(MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + wrapped)
        number, chunk = 0, plain.read(CHUNK_BYTES)
        while True:
            following = plain.read(CHUNK_BYTES)
            nonce = os.urandom(_NONCE)
            sealed = sealer.encrypt(nonce, chunk, _chunk_context(number, last=not following))
            out.write(struct.pack(">I", len(sealed)) + nonce + sealed)
            if not following:
                return header
            number, chunk = number + 1, following


def archive_header(stored: IO[bytes]) -> dict[str, Any]:
    """The clear header of a sealed archive (the stream is left just after it)."""
    if stored.read(len(MAGIC)) != MAGIC:
        raise SealedArchiveError("not a sealed backup archive")
    try:
        header = json.loads(stored.readline())
        uuid.UUID(header["key_id"])
    except (ValueError, KeyError, TypeError) as error:
        raise SealedArchiveError("the archive's header is damaged") from error
    return header


def archive_open(stored: IO[bytes], target: Path) -> dict[str, Any]:
    """Open a sealed archive into `target`; SealedArchiveError says why it cannot be."""
    header = archive_header(stored)
    try:
        tenant_key = stored_data_key(uuid.UUID(header["key_id"]))
    except DataKeyUnavailable as error:
        raise SealedArchiveError(
            f"this backup is sealed under data key {header['key_id']}, which no longer exists (its tenant "
            "was deleted): it cannot be decrypted"
        ) from error
    wrapped = stored.read(_WRAPPED_FILE_KEY)
    try:
        opener = AESGCM(tenant_key.aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _FILE_KEY_CONTEXT))
    except InvalidTag as error:
        raise SealedArchiveError("the archive's file key does not open (damaged archive)") from error
    with target.open("wb") as out:
        number, length = 0, stored.read(4)
        while True:
            if len(length) != 4:
                raise SealedArchiveError("the archive is cut short")
            nonce = stored.read(_NONCE)
            sealed = stored.read(struct.unpack(">I", length)[0])
            following = stored.read(4)
            try:
                out.write(opener.decrypt(nonce, sealed, _chunk_context(number, last=not following)))
            except InvalidTag as error:
                raise SealedArchiveError(f"chunk {number} of the archive is damaged, missing or cut short") from error
            if not following:
                return header
            number, length = number + 1, following
