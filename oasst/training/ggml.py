"""Writing a GPT-2 HF model as a legacy GGML file for ctransformers.

The layout, byte by byte, is in reference/stack-notes.md §2a: magic, six
hparams, the vocabulary as raw bytes, then each tensor with its shape
innermost-first. HF's Conv1D keeps weights as [in, out], ggml wants
[out, in]; biases, LayerNorm and position embeddings stay f32 even in an f16
file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

GGML_MAGIC = 0x67676D6C
_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from bytes to printable characters (the inverse is used here)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, [chr(c) for c in chars], strict=True))


def token_bytes(token: str, *, special: bool, unicode_to_byte: dict[str, int]) -> bytes:
    if special or any(ch not in unicode_to_byte for ch in token):
        return token.encode("utf-8")
    return bytes(unicode_to_byte[ch] for ch in token)


def write_ggml(model_dir: Path, out_path: Path, *, f16: bool = False) -> Path:
    """Convert the GPT-2 model in ``model_dir`` (HF format) to ``out_path``."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = model.config
    vocab = tokenizer.get_vocab()
    by_id = {i: t for t, i in vocab.items()}
    n_vocab = config.vocab_size
    specials = set(tokenizer.all_special_tokens) | {
        t.content for t in tokenizer.added_tokens_decoder.values()
    }
    unicode_to_byte = {ch: b for b, ch in bytes_to_unicode().items()}
    with open(out_path, "wb") as out:
        out.write(struct.pack("<I", GGML_MAGIC))
        out.write(
            struct.pack(
                "<6i",
                n_vocab,
                config.n_positions,
                config.n_embd,
                config.n_head,
                config.n_layer,
                int(f16),
            )
        )
        out.write(struct.pack("<i", n_vocab))
        for index in range(n_vocab):
            token = by_id.get(index, "")
            data = token_bytes(token, special=token in specials, unicode_to_byte=unicode_to_byte)
            out.write(struct.pack("<I", len(data)))
            out.write(data)
        for name, tensor in model.transformer.state_dict().items():
            if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
                continue
            _write_tensor(out, _ggml_name(name), ggml_array(name, tensor), f16=f16)
    return out_path


def _ggml_name(name: str) -> str:
    name = name.replace("h.", "h", 1) if name.startswith("h.") else name
    parts = name.split(".")
    parts[-1] = {"weight": "w", "bias": "b"}[parts[-1]]
    if parts[-2] in {"ln_1", "ln_2", "ln_f"}:
        parts[-1] = {"w": "g", "b": "b"}[parts[-1]]
    if name in {"wte.weight", "wpe.weight"}:
        return f"model/{name.split('.')[0]}"
    return "model/" + "/".join(parts)


def ggml_array(name: str, tensor: torch.Tensor) -> np.ndarray:
    """An HF GPT-2 tensor as ggml lays it out (GGML and GGUF alike): Conv1D weights transposed."""
    array = tensor.detach().cpu().numpy()
    if name.endswith(_CONV1D):
        array = array.T
    return np.ascontiguousarray(array)


def _write_tensor(out: BinaryIO, name: str, array: np.ndarray, *, f16: bool) -> None:
    # Only the big matrices (and the embeddings) may be f16; wpe must stay f32.
    half = f16 and array.ndim == 2 and name != "model/wpe"
    array = array.astype(np.float16 if half else np.float32)
    encoded = name.encode()
    out.write(struct.pack("<3i", array.ndim, len(encoded), int(half)))
    out.write(struct.pack(f"<{array.ndim}i", *reversed(array.shape)))
    out.write(encoded)
    out.write(array.tobytes())
