"""Creating and checking API keys.

A key is shown once, when it is made; only its SHA-256 is stored. The keys are
256-bit random strings, so a fast hash is as safe as a slow one here and lets a
request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from oasst.accounts.models import ApiClient, ApiToken, User

CLIENT_KEY_PREFIX = "oac_"
TOKEN_KEY_PREFIX = "oat_"  # noqa: S105 - a prefix, not a secret
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)
MIN_KEY_LENGTH = 16
# A frontend sends its key with every call; each process keeps the client it
# found for this long instead of reading the same row each time. Disabling a
# client, or taking its trust away, reaches every process within this time
# (at once in the process that saved the change).
CLIENT_CACHE_SECONDS = 10.0
_clients_by_hash: dict[str, tuple[float, ApiClient]] = {}


class InvalidKey(ValueError):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def create_api_client(
    name: str,
    *,
    key: str | None = None,
    trusted: bool = False,
    description: str = "",
    frontend_type: str = "",
    admin_email: str = "",
) -> tuple[ApiClient, str]:
    """Create an API client; returns it and its key, which is not stored."""
    if key is not None and len(key) < MIN_KEY_LENGTH:
        raise InvalidKey(f"an API key must be at least {MIN_KEY_LENGTH} characters long")
    key = key or generate_key(CLIENT_KEY_PREFIX)
    client = ApiClient.objects.create(
        name=name,
        key_prefix=key[:8],
        key_hash=hash_key(key),
        trusted=trusted,
        description=description,
        frontend_type=frontend_type,
        admin_email=admin_email,
    )
    return client, key


def create_token(
    user: User, *, name: str, expires_at: timezone.datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a personal token for ``user``; returns it and its key, which is not stored."""
    key = generate_key(TOKEN_KEY_PREFIX)
    token = ApiToken.objects.create(
        user=user, name=name, key_prefix=key[:8], key_hash=hash_key(key), expires_at=expires_at
    )
    return token, key


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def client_for_key(key: str) -> ApiClient | None:
    """The enabled API client with this key, or None (as of at most CLIENT_CACHE_SECONDS ago)."""
    if not key:
        return None
    key_hash = hash_key(key)
    now = time.monotonic()
    cached = _clients_by_hash.get(key_hash)
    if cached is not None and cached[0] > now:
        client = cached[1]
    else:
        client = ApiClient.objects.filter(key_hash=key_hash, enabled=True).first()
        if client is None:
            _clients_by_hash.pop(key_hash, None)
            return None
        _clients_by_hash[key_hash] = (now + CLIENT_CACHE_SECONDS, client)
    _touch(ApiClient, client)
    return client


def forget_api_clients(**_signal: object) -> None:
    """Drop this process's remembered clients, so a change to one is seen by the next request.

    Called on every save or delete of a client (see ``AccountsConfig.ready``).
    """
    _clients_by_hash.clear()


def user_for_token(key: str) -> User | None:
    """The active owner of this usable personal token, or None."""
    if not key:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    _touch(ApiToken, token)
    return token.user


def _touch(model: type[ApiClient] | type[ApiToken], row: ApiClient | ApiToken) -> None:
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        with transaction.atomic():
            model.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
