"""Small trees, so a handful of volunteers can finish them, and helpers that build state."""

from __future__ import annotations

import pytest

from oasst.accounts.models import User
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def _fast_passwords(settings: object) -> None:
    """The personas get passwords; hashing them properly would dominate these tests' time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def small_trees(db: None, settings: object) -> object:
    """Trees of 4 messages, 2 reviews, 2 rankings, depth 2, 2 children; no randomness from backlog."""
    settings.OASST_GOAL_TREE_SIZE = 4
    settings.OASST_NUM_REVIEWS_INITIAL_PROMPT = 2
    settings.OASST_NUM_REVIEWS_REPLY = 2
    settings.OASST_NUM_REQUIRED_RANKINGS = 2
    settings.OASST_MAX_TREE_DEPTH = 2
    settings.OASST_MAX_CHILDREN_COUNT = 2
    settings.OASST_MAX_ACTIVE_TREES = 2
    settings.OASST_P_ACTIVATE_BACKLOG_TREE = 0.0
    settings.OASST_RATE_LIMIT = False
    return settings


@pytest.fixture
def crowd(db: None) -> list[User]:
    return [make_user(f"crowd{i}") for i in range(6)]
