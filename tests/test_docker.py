"""No Docker engine runs here, so the files are checked for what can be checked."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())


def test_compose_names_the_five_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    assert "daphne" in services["web"]["command"]
    assert "migrate" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "oasst", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "oasst", "beat"]
    for name in ("web", "worker", "beat"):
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_sets_only_variables_the_settings_read() -> None:
    settings_source = (ROOT / "oasst" / "settings.py").read_text()
    env = _compose()["services"]["web"]["environment"]
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"} <= set(env)
    for name in env:
        assert f'"{name}"' in settings_source, f"settings.py does not read {name}"
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://")


def test_dockerfile_pins_cpu_torch_and_runs_as_a_user() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile
    assert re.search(r"^USER oasst$", dockerfile, re.MULTILINE)
    assert "collectstatic" in dockerfile
    assert "FROM python:3.11" in dockerfile
