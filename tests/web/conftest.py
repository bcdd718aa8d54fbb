from __future__ import annotations

from typing import Any

import pytest

from tests.web.seed import use_tiny_trees


@pytest.fixture
def tiny_trees(settings: Any) -> Any:
    use_tiny_trees(settings)
    return settings
