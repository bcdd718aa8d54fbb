"""The anonymiser's fast ids are the HMAC-SHA256 of ``collection:id`` under the salt."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from oasst.exports.anonymizer import Anonymizer


@pytest.mark.parametrize("salt", ["s", "x" * 64, "long " * 40])
def test_anonymiser_ids_are_hmac_sha256_of_collection_and_id(salt: str) -> None:
    anonymizer = Anonymizer(salt)
    for value in (uuid.UUID(int=7), "00000000-0000-4000-8000-000000000001", 42):
        assert anonymizer.message(value) == anonymizer("message", value)
        assert anonymizer.user(value) == anonymizer("user", value)
        expected = hmac.new(salt.encode(), f"user:{value}".encode(), hashlib.sha256).hexdigest()
        assert anonymizer.user(value) == expected
        assert anonymizer.message_once(value) == anonymizer("message", value)
    assert anonymizer.message(42) != anonymizer.user(42)
