"""Writing a GPT-2 HF model as a GGUF file for llama.cpp (llama-cpp-python).

GGUF v3 through the ``gguf`` package, architecture ``gpt2``: the hparams as
``gpt2.*`` keys, the byte-level BPE vocabulary as HF stores it (modern
llama.cpp reads byte-level strings; the added tokens are CONTROL tokens), its
merges, and the tensors under llama.cpp's names. As in the GGML file, HF's
Conv1D weights are [in, out] and are written transposed, and the tied head is
written out as ``output.weight``. Everything stays f32: the demo model is
small, and f32 gives llama.cpp the same greedy answers as transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from oasst.training.ggml import ggml_array

# HF GPT-2 names inside a block (``h.N.``) and llama.cpp's (``blk.N.``).
_BLOCK_NAMES = {
    "ln_1": "attn_norm",
    "attn.c_attn": "attn_qkv",
    "attn.c_proj": "attn_output",
    "ln_2": "ffn_norm",
    "mlp.c_fc": "ffn_up",
    "mlp.c_proj": "ffn_down",
}
_TOP_NAMES = {
    "wte.weight": "token_embd.weight",
    "wpe.weight": "position_embd.weight",
    "ln_f.weight": "output_norm.weight",
    "ln_f.bias": "output_norm.bias",
}


def write_gguf(model_dir: Path, out_path: Path, *, name: str) -> Path:
    """Convert the GPT-2 model in ``model_dir`` (HF format) to ``out_path``, named ``name``."""
    import gguf
    from transformers import AutoTokenizer, GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = model.config

    writer = gguf.GGUFWriter(str(out_path), "gpt2")
    writer.add_name(name)
    writer.add_context_length(config.n_positions)
    writer.add_embedding_length(config.n_embd)
    writer.add_feed_forward_length(config.n_inner or 4 * config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_head_count(config.n_head)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, types = vocabulary(tokenizer, config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges(tokenizer))
    eos = tokenizer.eos_token_id
    writer.add_bos_token_id(tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(False)

    state = model.transformer.state_dict()
    for name, tensor in state.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        writer.add_tensor(gguf_name(name), ggml_array(name, tensor))
    writer.add_tensor("output.weight", ggml_array("lm_head.weight", model.lm_head.weight))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_path


def vocabulary(tokenizer: object, size: int) -> tuple[list[str], list[int]]:
    """Every id's token as HF stores it (byte-level strings) and its GGUF token type."""
    from gguf import TokenType

    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    tokens, types = [], []
    for index in range(size):
        if index in by_id:
            tokens.append(by_id[index])
            types.append(TokenType.CONTROL if index in added else TokenType.NORMAL)
        else:  # room the embedding has beyond the vocabulary
            tokens.append(f"[PAD{index}]")
            types.append(TokenType.UNUSED)
    return tokens, types


def merges(tokenizer: object) -> list[str]:
    """The BPE merges as "left right" strings (tokenizers stores pairs or strings)."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    return [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]


def gguf_name(name: str) -> str:
    """llama.cpp's name for a tensor of HF's ``GPT2Model``."""
    if name in _TOP_NAMES:
        return _TOP_NAMES[name]
    _h, layer, rest = name.split(".", 2)
    module, kind = rest.rsplit(".", 1)
    return f"blk.{layer}.{_BLOCK_NAMES[module]}.{kind}"
