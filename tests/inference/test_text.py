"""Sampling, incremental decoding, prompts and parameter validation."""

from __future__ import annotations

import pytest
import torch

from oasst.inference.backends.fake import FakeTokenizer
from oasst.inference.decoding import TextStream
from oasst.inference.prompts import Conversation, build_prompt
from oasst.inference.sampling import pick_tokens
from oasst.inference.specs import (
    PRESETS,
    InvalidParams,
    SamplingParams,
    parse_params,
    preset_params,
)


def test_text_stream_never_splits_a_multibyte_character() -> None:
    tokenizer = FakeTokenizer()
    stream = TextStream(tokenizer.decode)
    pieces = [stream.push(b) for b in "héllo €".encode()]
    assert "".join(pieces) + stream.finish() == "héllo €"
    assert all("\ufffd" not in p for p in pieces)


def test_text_stream_holds_back_a_possible_stop_sequence() -> None:
    tokenizer = FakeTokenizer()
    stream = TextStream(tokenizer.decode, ("END",))
    out = [stream.push(b) for b in b"abcEN"]
    assert "".join(out) == "abc"
    assert stream.push(ord("x")) == "ENx"
    for b in b"yEND":
        stream.push(b)
    assert stream.stopped
    assert stream.text == "abcENxy"


def pick_token(
    logits: torch.Tensor, params: SamplingParams, *, generator: torch.Generator, history: list[int]
) -> int:
    return pick_tokens(logits[None], params, generators=[generator], histories=[history])[0]


def test_greedy_picks_the_largest_logit() -> None:
    logits = torch.tensor([0.1, 3.0, 2.0])
    params = SamplingParams(temperature=0)
    assert pick_token(logits, params, generator=torch.Generator(), history=[]) == 1


def test_the_same_seed_samples_the_same_tokens() -> None:
    logits = torch.randn(500, generator=torch.Generator().manual_seed(1))
    params = SamplingParams(temperature=1.0, top_k=None, top_p=None)

    def sample(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        return [pick_token(logits, params, generator=generator, history=[]) for _ in range(20)]

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_top_k_top_p_and_typical_keep_only_likely_tokens() -> None:
    logits = torch.tensor([5.0, 4.9, 0.0, -1.0, -2.0])
    for params in (
        SamplingParams(temperature=1.0, top_k=2, top_p=None),
        SamplingParams(temperature=1.0, top_k=None, top_p=0.5),
        SamplingParams(temperature=1.0, top_k=None, top_p=None, typical_p=0.5),
    ):
        generator = torch.Generator().manual_seed(0)
        picks = {pick_token(logits, params, generator=generator, history=[]) for _ in range(50)}
        assert picks <= {0, 1}


def test_a_row_samples_the_same_tokens_alone_or_in_a_batch() -> None:
    logits = torch.randn(3, 500, generator=torch.Generator().manual_seed(2))
    for params in (SamplingParams(), SamplingParams(temperature=1.0, top_k=None, top_p=None)):
        alone = [
            [pick_token(row, params, generator=generator, history=[1, 2]) for _ in range(10)]
            for row, generator in zip(
                logits, [torch.Generator().manual_seed(s) for s in (1, 2, 3)], strict=True
            )
        ]
        generators = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
        together = [
            pick_tokens(logits, params, generators=generators, histories=[[1, 2]] * 3)
            for _ in range(10)
        ]
        assert [list(step) for step in zip(*alone, strict=True)] == together


def test_sampling_follows_the_distribution_and_never_picks_a_banned_id() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2, 0.0]]))
    params = SamplingParams(temperature=1.0, top_k=None, top_p=None)
    generators = [torch.Generator().manual_seed(0)]
    picks = [
        pick_tokens(logits, params, generators=generators, histories=[[]])[0] for _ in range(4000)
    ]
    shares = [picks.count(token) / len(picks) for token in range(4)]
    assert shares[3] == 0
    assert shares == pytest.approx([0.5, 0.3, 0.2, 0.0], abs=0.03)
    banned = {
        pick_tokens(logits, params, generators=generators, histories=[[]], banned=[{0}])[0]
        for _ in range(200)
    }
    assert banned == {1, 2}


def test_repetition_penalty_discourages_seen_tokens() -> None:
    logits = torch.tensor([2.0, 1.9])
    params = SamplingParams(temperature=0, repetition_penalty=1.5)
    assert pick_token(logits, params, generator=torch.Generator(), history=[0]) == 1


def test_prompt_uses_open_assistant_tokens() -> None:
    tokenizer = FakeTokenizer()
    conv = Conversation(turns=(("prompter", "Hi"), ("assistant", "Hello"), ("prompter", "Bye")),
                        system_prompt="Be brief")  # fmt: skip
    prompt = build_prompt(tokenizer, conv, prompt_format="oasst", budget=1000)
    assert tokenizer.decode(prompt.ids) == (
        "<|system|>Be brief<|endoftext|><|prompter|>Hi<|endoftext|><|assistant|>Hello"
        "<|endoftext|><|prompter|>Bye<|endoftext|><|assistant|>"
    )


def test_continuing_an_answer_leaves_it_open() -> None:
    tokenizer = FakeTokenizer()
    conv = Conversation(turns=(("prompter", "Hi"), ("assistant", "Hel")), continue_last=True)
    prompt = build_prompt(tokenizer, conv, prompt_format="oasst", budget=1000)
    assert tokenizer.decode(prompt.ids).endswith("<|assistant|>Hel")


def test_over_the_context_middle_turns_go_and_the_system_prompt_and_first_turns_stay() -> None:
    tokenizer = FakeTokenizer()
    turns = [("prompter", "first question"), ("assistant", "first answer")]
    for i in range(10):
        turns += [("prompter", f"middle question {i}"), ("assistant", f"middle answer {i}")]
    turns.append(("prompter", "last question"))
    conv = Conversation(turns=tuple(turns), system_prompt="SYSTEM")
    prompt = build_prompt(tokenizer, conv, prompt_format="oasst", budget=200)
    text = tokenizer.decode(prompt.ids)
    assert len(prompt.ids) <= 200
    assert text.startswith("<|system|>SYSTEM")
    assert "first question" in text and "first answer" in text
    assert "middle question 0" not in text
    assert text.endswith("last question<|endoftext|><|assistant|>")
    assert prompt.dropped_turns > 0


def test_a_single_overlong_turn_keeps_its_start_and_end() -> None:
    tokenizer = FakeTokenizer()
    conv = Conversation(turns=(("prompter", "A" * 300 + "B" * 2000 + "Z" * 300),))
    prompt = build_prompt(tokenizer, conv, prompt_format="oasst", budget=1000)
    assert len(prompt.ids) == 1000 and prompt.truncated
    text = tokenizer.decode(prompt.ids)
    assert text.startswith("<|prompter|>AAA") and text.endswith("<|assistant|>")


def test_parameters_out_of_range_are_refused_by_name() -> None:
    with pytest.raises(InvalidParams, match="temperature must be between 0 and 2"):
        parse_params({"temperature": 5})
    with pytest.raises(InvalidParams, match="top_k must be an integer"):
        parse_params({"top_k": "many"})
    with pytest.raises(InvalidParams, match="unknown sampling parameter 'foo'"):
        parse_params({"foo": 1})
    with pytest.raises(InvalidParams, match="stop"):
        parse_params({"stop": ["x" * 100]})


def test_presets_include_open_assistant_and_llama_cpp_settings() -> None:
    assert {"k50", "k50-Creative", "nucleus9", "typical2", "llama.cpp"} <= set(PRESETS)
    params = preset_params("llama.cpp", model_defaults={"max_new_tokens": 100})
    assert (params.temperature, params.top_k, params.top_p) == (0.4, 30, 0.18)
    assert params.max_new_tokens == 100
