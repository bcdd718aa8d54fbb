"""How API requests say who they are.

* ``X-API-Key``: an API client (``request.api_client``). A trusted client acts
  for its users, named per request by the endpoints that need one.
* ``Authorization: Bearer <personal token>``: that token's owner.
* The browser session, with the CSRF check on unsafe methods.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer
from ninja.security import django_auth as session_auth

from oasst.accounts.keys import client_for_key, user_for_token
from oasst.accounts.models import ApiClient, User


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiClient | None:
        client = client_for_key(key or "")
        if client is not None:
            request.api_client = client
        return client


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


api_key_auth = ApiKeyAuth()
token_auth = TokenAuth()
# Any of the three; endpoints for people only use ``person_auth``.
any_auth = [api_key_auth, token_auth, session_auth]
person_auth = [token_auth, session_auth]
