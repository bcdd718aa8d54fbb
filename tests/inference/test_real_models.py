"""The demo model, built by the project's builder, on the real backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from oasst.inference.runner import LocalRunner
from oasst.inference.specs import ModelSpec, SamplingParams
from tests.inference.conftest import ask, collect

pytestmark = pytest.mark.realmodel

GREEDY = SamplingParams(temperature=0, max_new_tokens=40)
PROMPTS = ["Hello!", "Tell me a joke.", "Wie geht es dir?", "What is the capital of Spain?"]


@pytest.fixture(scope="module")
def real_runner() -> LocalRunner:
    runner = LocalRunner(max_batch=8)
    yield runner
    runner.shutdown()


def hf(folder: Path) -> ModelSpec:
    return ModelSpec("demo", "transformers", str(folder), context_length=512)


def ggml(folder: Path) -> ModelSpec:
    return ModelSpec("demo-ggml", "ctransformers", str(folder / "model.ggml"), context_length=512)


def test_greedy_answers_are_identical_on_transformers_and_ctransformers(
    demo_model_dir: Path, real_runner: LocalRunner
) -> None:
    for prompt in PROMPTS:
        a = collect(real_runner.submit(hf(demo_model_dir), ask(prompt), GREEDY, user_key="t"))
        b = collect(real_runner.submit(ggml(demo_model_dir), ask(prompt), GREEDY, user_key="t"))
        assert a[-1].reason == b[-1].reason
        assert a[-1].completion_tokens > 0
        assert a[-1].text == b[-1].text, prompt


def test_batched_greedy_answers_equal_one_at_a_time(
    demo_model_dir: Path, real_runner: LocalRunner
) -> None:
    alone = [
        collect(real_runner.submit(hf(demo_model_dir), ask(p), GREEDY, user_key="t"))[-1].text
        for p in PROMPTS
    ]
    handles = [
        real_runner.submit(hf(demo_model_dir), ask(p), GREEDY, user_key=f"u{i}")
        for i, p in enumerate(PROMPTS)
    ]
    together = [collect(h)[-1].text for h in handles]
    assert together == alone


def test_a_seed_makes_sampled_answers_reproducible(
    demo_model_dir: Path, real_runner: LocalRunner
) -> None:
    params = SamplingParams(temperature=1.2, top_k=None, top_p=None, seed=42, max_new_tokens=30)
    first = collect(real_runner.submit(hf(demo_model_dir), ask("Hello!"), params, user_key="t"))
    second = collect(real_runner.submit(hf(demo_model_dir), ask("Hello!"), params, user_key="t"))
    assert first[-1].seed == 42
    assert first[-1].text == second[-1].text


def test_a_prompt_joining_a_session_decodes_as_it_would_alone(demo_model_dir: Path) -> None:
    import torch

    from oasst.inference.backends import load_backend

    backend = load_backend(hf(demo_model_dir), max_batch=4)
    short, long = (backend.tokenizer.encode(p) for p in ("Hello!", "What is the capital of Spain?"))

    def greedy(session: object, rows: int, steps: int) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(rows)]
        for _ in range(steps):
            tokens = [int(t) for t in torch.argmax(session.logits(), dim=-1)]
            for row, token in enumerate(tokens):
                out[row].append(token)
            session.advance(tokens)
        return out

    with torch.inference_mode():
        alone = [greedy(backend.start([p]), 1, 8)[0] for p in (short, long)]
        session = backend.start([short])
        first = greedy(session, 1, 3)[0]
        assert session.join([long])
        together = greedy(session, 2, 5)
    assert first + together[0] == alone[0][:8]
    assert together[1] == alone[1][:5]
