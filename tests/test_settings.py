"""Settings parsing: good values are read, bad ones stop start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from oasst.lib.env import env_bool, env_float, env_int, env_list, env_secret, env_url

ROOT = Path(__file__).resolve().parent.parent


def test_env_bool_reads_common_spellings() -> None:
    assert env_bool("X", False, environ={"X": "yes"}) is True
    assert env_bool("X", True, environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True


def test_env_bool_rejects_nonsense_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_env_int_checks_type_and_range() -> None:
    assert env_int("N", 3, environ={"N": " 12 "}) == 12
    assert env_int("N", 3, environ={"N": ""}) == 3
    with pytest.raises(ImproperlyConfigured, match="OASST_GOAL_TREE_SIZE must be an integer"):
        env_int("OASST_GOAL_TREE_SIZE", 12, environ={"OASST_GOAL_TREE_SIZE": "twelve"})
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 3, minimum=1, environ={"N": "0"})


def test_env_float_checks_range() -> None:
    assert env_float("F", 0.6, environ={"F": "0.75"}) == 0.75
    with pytest.raises(ImproperlyConfigured, match="at most 1"):
        env_float("F", 0.6, maximum=1, environ={"F": "1.5"})


def test_env_list_splits_and_drops_blanks() -> None:
    assert env_list("H", ["a"], environ={"H": "x.org, y.org,,"}) == ["x.org", "y.org"]
    assert env_list("H", ["a"], environ={}) == ["a"]


def test_env_url_checks_the_scheme() -> None:
    assert env_url("R", schemes=("redis",), environ={"R": "redis://h:6379/1"}) == "redis://h:6379/1"
    assert env_url("R", schemes=("redis",), environ={}) == ""
    with pytest.raises(
        ImproperlyConfigured, match="REDIS_URL must be a URL starting with redis://"
    ):
        env_url("REDIS_URL", schemes=("redis",), environ={"REDIS_URL": "localhost:6379"})


def test_env_secret_reads_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    assert env_secret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cret"
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE cannot be read"):
        env_secret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})
    with pytest.raises(ImproperlyConfigured, match="only one of"):
        env_secret("SECRET_KEY", environ={"SECRET_KEY": "a", "SECRET_KEY_FILE": str(secret)})


def _run_manage(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OASST_HTTPS", "DEBUG", "ALLOWED_HOSTS"}
        # The browser tests set this for their own process; a deployment never has it.
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    clean.update({"OASST_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_malformed_variable_stops_start_up_with_its_name(tmp_path: Path) -> None:
    result = _run_manage(["check"], {"DATABASE_URL": "mysql://nope"}, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DATABASE_URL must be a URL starting with" in result.stderr


def test_production_without_secret_key_is_refused(tmp_path: Path) -> None:
    result = _run_manage(["check"], {"DATABASE_URL": "postgres://u@127.0.0.1/x"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_embedded_mode_keeps_a_private_generated_secret_key(tmp_path: Path) -> None:
    first = _run_manage(["check"], {}, tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()
    assert len(key) >= 50
    _run_manage(["check"], {}, tmp_path)
    assert key_file.read_text() == key


def test_check_deploy_is_clean_with_production_variables(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/oasst_unused",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "SECRET_KEY": "k" * 20 + "production-secret-for-the-deploy-check-only-0123456789",
        "ALLOWED_HOSTS": "oasst.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://oasst.example.org",
    }
    result = _run_manage(["check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_oauth_providers_are_enabled_by_their_variables(tmp_path: Path) -> None:
    script = (
        "import django; django.setup(); from django.conf import settings;"
        "print(sorted(settings.SOCIALACCOUNT_PROVIDERS));"
        "print('allauth.socialaccount.providers.github' in settings.INSTALLED_APPS)"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
    }
    env.update(
        {
            "OASST_DATA_DIR": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "oasst.settings",
            "OASST_OAUTH_GITHUB_CLIENT_ID": "abc",
            "OASST_OAUTH_GITHUB_SECRET": "def",
            "OASST_OIDC_SERVER_URL": "https://sso.example.org/realms/x",
            "OASST_OIDC_CLIENT_ID": "oasst",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["['github', 'openid_connect']", "True"]


def test_without_oauth_variables_no_provider_is_offered() -> None:
    from django.conf import settings

    assert settings.SOCIALACCOUNT_PROVIDERS == {}
