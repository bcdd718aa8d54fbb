"""The demo model builder and the model management commands."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from oasst.inference.models import Model
from oasst.training.corpus import demo_chats, expand_pairs, load_corpus
from oasst.training.demo import build_demo_model, folder_digest
from oasst.training.ggml import GGML_MAGIC
from oasst.training.gguf import write_gguf


def test_the_corpus_is_multilingual_and_expands_deterministically() -> None:
    corpus = load_corpus()
    assert {"en", "de", "es", "fr"} <= set(corpus["pairs"])
    assert len(expand_pairs(corpus)) > 150
    assert demo_chats(seed=3) == demo_chats(seed=3)


def test_the_build_is_deterministic(tmp_path: Path) -> None:
    first = build_demo_model(tmp_path / "a", steps=3)
    second = build_demo_model(tmp_path / "b", steps=3)
    assert folder_digest(first.folder) == folder_digest(second.folder)


def test_the_built_folder_has_hf_files_and_a_ggml_file(demo_model_dir: Path) -> None:
    names = {p.name for p in demo_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "model.ggml"} <= names
    header = (demo_model_dir / "model.ggml").read_bytes()[:28]
    magic, n_vocab, n_ctx, _embd, _head, _layer, ftype = struct.unpack("<I6i", header)
    assert magic == GGML_MAGIC and n_ctx == 512 and ftype == 0 and n_vocab > 1000


def test_the_gguf_file_holds_the_model_under_llama_cpp_names(
    demo_model_dir: Path, tmp_path: Path
) -> None:
    import gguf
    import numpy as np
    from transformers import AutoTokenizer, GPT2LMHeadModel

    path = write_gguf(demo_model_dir, tmp_path / "model.gguf", name="demo")
    reader = gguf.GGUFReader(path)
    fields = {name: field.contents() for name, field in reader.fields.items()}
    tokenizer = AutoTokenizer.from_pretrained(demo_model_dir)
    model = GPT2LMHeadModel.from_pretrained(demo_model_dir)
    assert (fields["general.architecture"], fields["general.name"]) == ("gpt2", "demo")
    assert fields["gpt2.context_length"] == 512 and fields["gpt2.block_count"] == 2
    assert fields["tokenizer.ggml.model"] == "gpt2"
    tokens = fields["tokenizer.ggml.tokens"]
    assert tokens[: len(tokenizer)] == tokenizer.convert_ids_to_tokens(range(len(tokenizer)))
    control = [i for i, t in enumerate(fields["tokenizer.ggml.token_type"]) if t == 3]
    assert control == sorted(tokenizer.added_tokens_decoder)
    assert fields["tokenizer.ggml.eos_token_id"] == tokenizer.eos_token_id
    tensors = {t.name: t for t in reader.tensors}
    assert {"token_embd.weight", "position_embd.weight", "output.weight"} <= set(tensors)
    assert {"blk.1.attn_qkv.weight", "blk.1.ffn_down.bias", "output_norm.bias"} <= set(tensors)
    # Conv1D weights are stored transposed: [out, in], as llama.cpp multiplies them.
    qkv = model.transformer.h[0].attn.c_attn.weight.detach().numpy().T
    stored = np.asarray(tensors["blk.0.attn_qkv.weight"].data).reshape(qkv.shape)
    assert np.array_equal(stored, qkv)


@pytest.mark.django_db
def test_build_demo_model_registers_each_installed_backend_once(tmp_path: Path) -> None:
    call_command("build_demo_model", "--out", str(tmp_path / "demo"), "--steps", "2")
    expected = {("demo", "transformers"), ("demo-ggml", "ctransformers")}
    # The GGUF file is written and registered only where llama.cpp is installed.
    if importlib.util.find_spec("llama_cpp"):
        expected.add(("demo-gguf", "llama_cpp"))
        assert (tmp_path / "demo" / "model.gguf").is_file()
    assert set(Model.objects.values_list("name", "backend")) == expected
    assert Model.objects.get(is_default=True).name == "demo"
    # --if-missing leaves an install that has a model alone.
    call_command("build_demo_model", "--if-missing", "--out", str(tmp_path / "other"))
    assert not (tmp_path / "other").exists()


@pytest.mark.django_db
def test_add_model_registers_and_updates_a_model(demo_model_dir: Path) -> None:
    call_command("add_model", "mine", str(demo_model_dir), "--context-length", "512", "--default")
    model = Model.objects.get(name="mine")
    assert (model.backend, model.context_length, model.is_default) == ("transformers", 512, True)
    call_command("add_model", "mine", str(demo_model_dir), "--disabled")
    assert Model.objects.get(name="mine").enabled is False


@pytest.mark.django_db
def test_add_model_refuses_a_missing_path_and_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("add_model", "x", str(tmp_path / "nothing"))
    with pytest.raises(CommandError, match="temperature"):
        call_command("add_model", "x", str(tmp_path), "--params", '{"temperature": 9}')
    assert not Model.objects.exists()
