from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from oasst.inference.models import Backend, Model
from oasst.inference.registry import register_model
from oasst.training.sizes import SIZES


class Command(BaseCommand):
    help = (
        "Train the small demo chat model (HF folder + GGML file, and a GGUF file where "
        "llama-cpp-python is installed) from the shipped corpus and register it as 'demo' "
        "(transformers), 'demo-ggml' (ctransformers) and 'demo-gguf' (llama.cpp)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when any model is already registered (used by make run).",
        )
        parser.add_argument(
            "--out", type=Path, help="Folder to write (default: OASST_MODELS_DIR/demo)."
        )
        parser.add_argument("--size", choices=sorted(SIZES), default="demo")
        parser.add_argument("--steps", type=int, help="Training steps (default: the size's own).")
        parser.add_argument("--name", default="demo", help="Registry name (default: demo).")
        parser.add_argument("--no-register", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_missing"] and Model.objects.exists():
            self.stdout.write("A model is registered already; not building the demo model.")
            return
        from oasst.training.demo import build_demo_model  # torch: only when building

        name = options["name"]
        out = options["out"] or settings.OASST_MODELS_DIR / name
        built = build_demo_model(
            out,
            size=options["size"],
            steps=options["steps"],
            threads=min(2, settings.OASST_RUNNER_THREADS or 2),
            progress=self.stdout.write,
        )
        if options["no_register"]:
            return
        context = SIZES[options["size"]].n_positions
        # Greedy by default: the demo model only repeats what it learned, and
        # sampling makes it mix answers up.
        params = {"temperature": 0, "max_new_tokens": 200}
        register_model(
            name,
            built.folder,
            backend=Backend.TRANSFORMERS,
            context_length=context,
            default_params=params,
            description="The demo model this server trained itself (transformers).",
            make_default=not Model.objects.filter(is_default=True).exclude(name=name).exists(),
        )
        register_model(
            f"{name}-ggml",
            built.ggml_path,
            backend=Backend.CTRANSFORMERS,
            context_length=context,
            default_params=params,
            description="The same demo model as a GGML file (ctransformers).",
        )
        if built.gguf_path:
            register_model(
                f"{name}-gguf",
                built.gguf_path,
                backend=Backend.LLAMA_CPP,
                context_length=context,
                default_params=params,
                description="The same demo model as a GGUF file (llama.cpp).",
            )
        self.stdout.write(
            self.style.SUCCESS(f"Registered {name} ({built.parameters:,} parameters).")
        )
