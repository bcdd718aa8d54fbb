from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oasst.inference.models import Backend, PromptFormat
from oasst.inference.registry import register_model


class Command(BaseCommand):
    help = "Register (or update) a model: a local HF folder, GGML file or GGUF file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("path")
        parser.add_argument("--backend", choices=Backend.values, default=Backend.TRANSFORMERS)
        parser.add_argument(
            "--prompt-format", choices=PromptFormat.values, default=PromptFormat.OASST
        )
        parser.add_argument("--context-length", type=int, default=2048)
        parser.add_argument(
            "--params",
            default="{}",
            help="Default sampling parameters as JSON, e.g. '{\"top_k\": 30}'",
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--default", action="store_true", help="Make it the default model.")
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            params = json.loads(options["params"])
            if not isinstance(params, dict):
                raise ValueError("--params must be a JSON object")
            model = register_model(
                options["name"],
                options["path"],
                backend=options["backend"],
                prompt_format=options["prompt_format"],
                context_length=options["context_length"],
                default_params=params,
                description=options["description"],
                make_default=options["default"],
                enabled=not options["disabled"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Registered {model.name} ({model.backend})."))
