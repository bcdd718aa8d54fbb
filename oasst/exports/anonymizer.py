"""Salted hashes of ids, so a published dataset does not reveal who wrote what.

Open-Assistant hashed ``f"{collection}:{id}{seed}"`` with a seed given on the
command line. We use an HMAC-SHA256 keyed with a per-instance secret (the
output is the same 64 hex characters), so nobody can confirm a guessed id
without the secret. Ids that name the same thing hash the same way: a tree id
is its prompt's message id, so the tree-level ``message_tree_id``, every row's
``message_tree_id`` and the ranking events' ``message_tree_id`` all use the
``message`` collection and equal the anonymised ``prompt.message_id`` — OA
left the first unhashed and hashed the last as ``message_tree``
(reference/oasst-format.md §5), which broke its own importer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from django.conf import settings

MESSAGE = "message"
USER = "user"


def read_instance_salt() -> str:
    """The configured salt, or one generated once and kept, readable only by us, in the data directory."""
    if settings.OASST_EXPORT_SALT:
        return settings.OASST_EXPORT_SALT
    path = Path(settings.DATA_DIR) / "export_salt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class Anonymizer:
    def __init__(self, salt: str) -> None:
        if not salt:
            raise ValueError("the anonymiser needs a non-empty salt")
        self._key = salt.encode()
        # Users write many messages each; their hash is worth remembering. A
        # message id comes back as its replies' parent id, within its tree.
        self.user = lru_cache(maxsize=65536)(_hmac_sha256_hex(self._key, f"{USER}:"))
        # ``message`` without the cache, for ids hashed once each.
        self.message_once = _hmac_sha256_hex(self._key, f"{MESSAGE}:")
        self.message = lru_cache(maxsize=4096)(self.message_once)

    def __call__(self, collection: str, value: object) -> str:
        return hmac.digest(self._key, f"{collection}:{value}".encode(), "sha256").hex()


def _hmac_sha256_hex(key: bytes, prefix: str) -> Callable[[object], str]:
    """``hmac.digest(key, f"{prefix}{value}".encode(), "sha256").hex()``, with the key's work done once.

    HMAC (RFC 2104) hashes the key padded and xored with two constants, then
    the message; those first blocks, and the prefix, are hashed here once and
    copied per value, which makes the millions of ids of an export about three
    times cheaper than ``hmac.digest``. The tests hold both to the same output.
    """
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    inner.update(prefix.encode())
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    inner_copy, outer_copy = inner.copy, outer.copy

    def digest(value: object) -> str:
        text = inner_copy()
        text.update(f"{value}".encode())
        result = outer_copy()
        result.update(text.digest())
        return result.hexdigest()

    return digest
