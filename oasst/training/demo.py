"""Building the demo model: tokenizer, a small GPT-2, a short training run, GGML (and GGUF).

Deterministic: the corpus expansion, the weight initialisation and the batch
order are seeded, and torch runs its deterministic kernels, so the same
version of the code writes the same weights every time.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from oasst.training.corpus import demo_chats
from oasst.training.ggml import write_ggml
from oasst.training.sizes import SIZES, Size

log = logging.getLogger(__name__)

EOS = "<|endoftext|>"
TRAIN_WINDOW = 128
SPECIAL_TOKENS = [EOS, "<|prompter|>", "<|assistant|>", "<|system|>"]


@dataclass
class BuiltModel:
    folder: Path
    ggml_path: Path
    gguf_path: Path | None
    parameters: int
    final_loss: float
    seconds: float


def format_chat(system: str, turns: list[tuple[str, str]]) -> str:
    """A chat in Open-Assistant's prompt format, as the runner builds prompts."""
    head = f"<|system|>{system}{EOS}" if system else ""
    return head + "".join(f"<|{role}|>{text}{EOS}" for role, text in turns)


def build_demo_model(
    out_dir: Path,
    *,
    size: str = "demo",
    steps: int | None = None,
    seed: int = 0,
    threads: int = 2,
    progress: Callable[[str], None] | None = None,
) -> BuiltModel:
    """Train and write the model into ``out_dir`` (replaced atomically); slow: seconds."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    started = time.monotonic()
    shape = SIZES[size]
    steps = shape.steps if steps is None else steps
    say = progress or (lambda message: log.info("%s", message))
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)

    texts = [format_chat(system, turns) for system, turns in demo_chats(seed=seed)]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=shape.vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        eos_token=EOS,
        bos_token=EOS,
        unk_token=EOS,
        pad_token=EOS,
        additional_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=shape.n_positions,
    )
    say(f"tokenizer: {len(tokenizer)} tokens")

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config)
    parameters = sum(p.numel() for p in model.parameters())
    say(f"model: {parameters:,} parameters, {steps} steps")

    # Training windows are short: the chats are short, and attention cost grows
    # with the square of the length.
    encoded = [tokenizer.encode(t)[:TRAIN_WINDOW] for t in texts]
    loss = _train(model, encoded, shape=shape, steps=steps, seed=seed, say=say)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=out_dir.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        write_ggml(staging, staging / "model.ggml")
        gguf = None
        if _llama_cpp_installed():
            from oasst.training.gguf import write_gguf

            gguf = write_gguf(staging, staging / "model.gguf", name=f"oasst-{size}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    say(f"written to {out_dir} in {seconds:.1f} s (loss {loss:.2f})")
    return BuiltModel(
        folder=out_dir,
        ggml_path=out_dir / "model.ggml",
        gguf_path=out_dir / "model.gguf" if gguf else None,
        parameters=parameters,
        final_loss=loss,
        seconds=seconds,
    )


def _train(
    model: torch.nn.Module,
    encoded: list[list[int]],
    *,
    shape: Size,
    steps: int,
    seed: int,
    say: Callable[[str], None],
) -> float:
    if steps <= 0:
        return math.nan
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=shape.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 20) * max(0.05, 1 - step / steps)
    )
    model.train()
    loss_value = math.nan
    order: list[int] = []
    for step in range(steps):
        if len(order) < shape.batch_size:
            order += torch.randperm(len(encoded), generator=generator).tolist()
        batch = [encoded[i] for i in order[: shape.batch_size]]
        del order[: shape.batch_size]
        width = max(len(b) for b in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq)
            labels[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = float(out.loss.detach())
        if step % 50 == 0 or step == steps - 1:
            say(f"step {step + 1}/{steps} loss {loss_value:.3f}")
    model.eval()
    return loss_value


def _llama_cpp_installed() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def folder_digest(folder: Path) -> str:
    """A hash over the files of a built model, to check that builds are reproducible."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
