"""The model registry: which models the chat and the API may use."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oasst.inference.specs import ModelSpec


class Backend(models.TextChoices):
    TRANSFORMERS = "transformers", "transformers"
    CTRANSFORMERS = "ctransformers", "ctransformers (GGML)"
    LLAMA_CPP = "llama_cpp", "llama.cpp (GGUF)"
    FAKE = "fake", _("fake (tests only)")


class PromptFormat(models.TextChoices):
    OASST = "oasst", _("Open-Assistant special tokens")
    CHAT_TEMPLATE = "chat_template", _("the model's own chat template")


class ModelQuerySet(models.QuerySet["Model"]):
    def enabled(self) -> ModelQuerySet:
        return self.filter(enabled=True)


class Model(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=256, blank=True)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.TRANSFORMERS)
    path = models.CharField(
        max_length=1024, help_text=_("A local HF directory, GGML or GGUF file.")
    )
    prompt_format = models.CharField(
        max_length=20, choices=PromptFormat.choices, default=PromptFormat.OASST
    )
    context_length = models.PositiveIntegerField(default=2048)
    default_params = models.JSONField(
        default=dict, blank=True, help_text=_('Default sampling parameters, e.g. {"top_k": 30}.')
    )
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(_("default model"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Bumped on every save, so the runner reloads a model whose row changed.
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_model"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            backend=self.backend,
            path=self.path,
            prompt_format=self.prompt_format,
            context_length=self.context_length,
            version=self.updated_at.isoformat() if self.updated_at else "",
        )
