"""The demo model, built by the project's builder, on the real backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def gguf(folder: Path) -> ModelSpec:
    return ModelSpec("demo-gguf", "llama_cpp", str(folder / "model.gguf"), context_length=512)


@pytest.mark.parametrize("other", [ggml, gguf], ids=["ctransformers", "llama_cpp"])
def test_greedy_answers_are_identical_on_transformers_and_the_ggml_backends(
    demo_model_dir: Path, real_runner: LocalRunner, other: Any
) -> None:
    if other is gguf:
        pytest.importorskip(
            "llama_cpp",
            reason="llama-cpp-python, an optional extra, is not installed "
            "(make install-llama; CI installs it)",
        )
    for prompt in PROMPTS:
        a = collect(real_runner.submit(hf(demo_model_dir), ask(prompt), GREEDY, user_key="t"))
        b = collect(real_runner.submit(other(demo_model_dir), ask(prompt), GREEDY, user_key="t"))
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


def test_the_kv_cache_grows_in_place_and_decodes_as_a_whole_recompute(
    demo_model_dir: Path,
) -> None:
    import torch
    from transformers.cache_utils import DynamicLayer

    from oasst.inference.backends import load_backend
    from oasst.inference.backends.hf import ROOM, GrowingLayer

    backend = load_backend(hf(demo_model_dir), max_batch=4)
    prompts = [backend.tokenizer.encode(p) for p in ("Hello!", "What is the capital of Spain?")]

    def whole(ids: list[int]) -> torch.Tensor:
        """The next token's logits from the whole sequence, without any cache."""
        return backend.model(input_ids=torch.tensor([ids])).logits[0, -1].float()

    def step(session: object, sequences: list[list[int]]) -> None:
        """Check every row's logits against a whole recompute, then feed its best token."""
        logits = session.logits()
        for row, ids in enumerate(sequences):
            assert torch.allclose(logits[row], whole(ids), atol=1e-4), (row, len(ids))
        tokens = [int(t) for t in torch.argmax(logits, dim=-1)]
        for ids, token in zip(sequences, tokens, strict=True):
            ids.append(token)
        session.advance(tokens)

    with torch.inference_mode():
        session = backend.start([prompts[0]])
        assert all(type(layer) is DynamicLayer for layer in session.cache.layers)  # a lone row
        first = list(prompts[0])
        for _ in range(3):
            step(session, [first])
        second = list(prompts[1])
        assert session.join([second])  # a batch from now on: its cache grows in place
        layers = session.cache.layers
        assert all(type(layer) is GrowingLayer for layer in layers)
        room = layers[0]._keys.shape[-2]
        for _ in range(room - len(first) + 5):  # past the first buffers: they grow
            step(session, [first, second])
        assert session.cache.layers[0]._keys.shape[-2] > room
        third = list(prompts[0])
        assert session.join([third])  # a row merged into the grown cache
        for _ in range(ROOM // 2):
            step(session, [first, second, third])
        session.keep([1])  # the other rows end; the second goes on alone
        for _ in range(5):
            step(session, [second])
        batch = backend.start([prompts[0], prompts[1]])  # a batch from the start
        assert all(type(layer) is GrowingLayer for layer in batch.cache.layers)
        step(batch, [list(prompts[0]), list(prompts[1])])


def test_a_growing_cache_layer_never_holds_room_past_the_model_context() -> None:
    import torch

    from oasst.inference.backends.hf import GrowingLayer

    keys = torch.arange(2 * 3 * 6 * 4, dtype=torch.float32).reshape(2, 3, 6, 4)
    layer = GrowingLayer(keys, -keys, limit=10)
    assert layer._keys.shape[-2] == 10  # not 6 + ROOM
    for _ in range(4):
        layer.update(torch.ones(2, 3, 1, 4), -torch.ones(2, 3, 1, 4))
    assert layer._keys.shape[-2] == 10
    assert torch.equal(layer.keys[..., :6, :], keys)
    assert torch.equal(layer.values[..., 6:, :], -torch.ones(2, 3, 4, 4))
    layer.batch_select_indices(torch.tensor([1]))
    assert torch.equal(layer.keys, torch.cat([keys[1:], torch.ones(1, 3, 4, 4)], dim=-2))


def test_a_growing_cache_layer_cropped_by_transformers_goes_on_from_what_is_left() -> None:
    import torch

    from oasst.inference.backends.hf import GrowingLayer

    keys = torch.arange(1 * 2 * 6 * 4, dtype=torch.float32).reshape(1, 2, 6, 4)
    layer = GrowingLayer(keys, keys.clone(), limit=100)
    layer.crop(-2)  # transformers' own method: keys and values are new tensors
    new_keys, _ = layer.update(torch.ones(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
    assert torch.equal(new_keys, torch.cat([keys[..., :4, :], torch.ones(1, 2, 1, 4)], dim=-2))
    assert layer.get_seq_length() == 5


@pytest.mark.parametrize(
    ("gpu", "device", "dtype"), [(True, "cuda", "float16"), (False, "cpu", "float32")]
)
def test_the_transformers_backend_takes_a_gpu_in_half_precision_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch, gpu: bool, device: str, dtype: str
) -> None:
    import torch

    from oasst.inference.backends.hf import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert pick_device() == (torch.device(device), getattr(torch, dtype))
