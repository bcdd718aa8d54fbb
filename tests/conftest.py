"""Personas and small factories shared by every test module."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from oasst.accounts import roles
from oasst.accounts.keys import create_api_client, create_token
from oasst.accounts.models import ApiClient, User

_counter = itertools.count(1)


def make_user(
    username: str | None = None,
    *,
    role: str = roles.VOLUNTEER,
    tos: bool = True,
    languages: list[str] | None = None,
    password: str = "correct horse battery staple",
) -> User:
    """A user with a role; ToS accepted unless ``tos=False``."""
    username = username or f"user{next(_counter)}"
    user = User.objects.create_user(
        username,
        email=f"{username}@example.org",
        password=password,
        languages=languages or ["en"],
        tos_accepted_at=timezone.now() if tos else None,
    )
    roles.assign_role(user, role)
    return user


@pytest.fixture
def volunteer(db: None) -> User:
    return make_user("vera")


@pytest.fixture
def moderator(db: None) -> User:
    return make_user("mona", role=roles.MODERATOR)


@pytest.fixture
def admin_user(db: None) -> User:
    user = make_user("ada", role=roles.ADMIN)
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    return user


@pytest.fixture
def newcomer(db: None) -> User:
    """Signed up, terms not yet accepted."""
    return make_user("nico", tos=False)


@pytest.fixture
def volunteer_client(volunteer: User) -> Client:
    client = Client()
    client.force_login(volunteer)
    return client


@pytest.fixture
def moderator_client(moderator: User) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def trusted_client(db: None) -> tuple[ApiClient, str]:
    """A trusted API client and its key."""
    return create_api_client("frontend", trusted=True, frontend_type="web")


@pytest.fixture
def volunteer_token(volunteer: User) -> str:
    return create_token(volunteer, name="tests")[1]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate limits and other cached state never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()


# Tests load models themselves: no warm-up when oasst.asgi is imported.
# (pytest-django has configured settings before any conftest is imported.)
settings.OASST_RUNNER_WARMUP = False


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model, built once per test session by the project's own builder."""
    from oasst.training.demo import build_demo_model

    folder = tmp_path_factory.mktemp("models") / "demo"
    build_demo_model(folder, steps=200)
    return folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every transactional test restores the database it found.

    A transactional test without ``serialized_rollback`` flushes the tables and
    lets ``post_migrate`` recreate content types and permissions under new ids;
    the next test that restores the serialized database then collides with them.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and "serialized_rollback" not in marker.kwargs
        ):
            item.add_marker(
                pytest.mark.django_db(**marker.kwargs, serialized_rollback=True), append=False
            )
