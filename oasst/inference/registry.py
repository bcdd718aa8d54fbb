"""Reading and writing the model registry; the runner gets ModelSpecs from here."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction

from oasst.inference.models import Backend, Model, PromptFormat
from oasst.inference.specs import InvalidParams, parse_params

log = logging.getLogger(__name__)


class UnknownModel(LookupError):
    pass


def find_model(name: str | None = None) -> Model:
    """The enabled model called ``name``, or the default one; raises UnknownModel."""
    models = Model.objects.enabled()
    if name:
        model = models.filter(name=name).first()
        if model is None:
            raise UnknownModel(f"unknown or disabled model {name!r}")
        return model
    model = models.filter(is_default=True).first() or models.first()
    if model is None:
        raise UnknownModel("no model is registered; run manage.py build_demo_model or add_model")
    return model


def register_model(
    name: str,
    path: str | Path,
    *,
    backend: str = Backend.TRANSFORMERS,
    prompt_format: str = PromptFormat.OASST,
    context_length: int = 2048,
    default_params: dict[str, Any] | None = None,
    description: str = "",
    make_default: bool = False,
    enabled: bool = True,
) -> Model:
    """Create or update a registry row; the runner picks the change up without a restart."""
    if backend not in Backend.values:
        raise ValueError(
            f"unknown backend {backend!r}; expected one of {', '.join(Backend.values)}"
        )
    if prompt_format not in PromptFormat.values:
        raise ValueError(f"unknown prompt format {prompt_format!r}")
    try:
        parse_params(default_params or {})
    except InvalidParams as exc:
        raise ValueError(str(exc)) from None
    path = str(path)
    if backend != Backend.FAKE and not Path(path).exists():
        raise ValueError(f"no such file or directory: {path}")
    with transaction.atomic():
        if make_default:
            Model.objects.filter(is_default=True).exclude(name=name).update(is_default=False)
        model, _ = Model.objects.update_or_create(
            name=name,
            defaults={
                "path": path,
                "backend": backend,
                "prompt_format": prompt_format,
                "context_length": context_length,
                "default_params": default_params or {},
                "description": description,
                "enabled": enabled,
                "is_default": make_default,
            },
        )
    return model


def warm_up() -> list[str]:
    """Start loading every enabled model in the runner; returns their names."""
    from oasst.inference.runner import get_runner

    runner = get_runner()
    names = []
    try:
        models = list(Model.objects.enabled())
    except DatabaseError as exc:  # not migrated yet: nothing to warm up
        log.warning("cannot read the model registry: %s", exc)
        return []
    for model in models:
        runner.load(model.spec)
        names.append(model.name)
    if names:
        log.info("warming up models: %s", ", ".join(names))
    return names
