"""transformers: HF model directories on CPU or CUDA, with batched decoding.

Sequences are left-padded, so every row's next token sits in the last
column; position ids follow the attention mask so padding does not shift a
row's positions. The KV cache is kept between steps and rows are dropped from
it in place when they finish; new rows are prefilled alone and merged into it.
A batch's keys and values live in buffers with room to spare
(``GrowingLayer``): a step writes its column in place, where transformers' own
layer copies the whole cache to append one column (a cost that grows with the
batch and the answer's length). A lone row keeps transformers' layer: its
copy is small, and on a small model the in-place write's own overhead cost
more than it saved.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.cache_utils import DynamicLayer

from oasst.inference.backends import BackendUnavailable
from oasst.inference.specs import ModelSpec

# Columns of room a layer's buffers get past what they hold, at the least;
# when full they grow by as many columns as they hold (a copy per doubling),
# but never past the model's context, which no sequence outgrows.
ROOM = 64


class GrowingLayer(DynamicLayer):
    """One layer's keys and values, ``[batch, heads, length, head_dim]``, in larger buffers.

    ``keys`` and ``values`` are views of the first ``length`` columns, which is
    what the model attends to; ``update`` writes the new columns after them.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, *, limit: int) -> None:
        super().__init__()
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self.limit = limit
        self._hold(keys, values)

    def _hold(self, keys: torch.Tensor, values: torch.Tensor, *, more: int = 0) -> None:
        """Copy ``keys`` and ``values`` into new buffers with room for ``more`` columns and then some."""
        self.length = keys.shape[-2]
        size = max(self.length + more, min(self.limit, self.length + max(more, ROOM, self.length)))
        self._keys = keys.new_empty((*keys.shape[:-2], size, keys.shape[-1]))
        self._values = values.new_empty((*values.shape[:-2], size, values.shape[-1]))
        self._keys[..., : self.length, :] = keys
        self._values[..., : self.length, :] = values
        self._view()

    def _view(self) -> None:
        self.keys = self._keys[..., : self.length, :]
        self.values = self._values[..., : self.length, :]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys.data_ptr() != self._keys.data_ptr() or self.keys.shape[-2] != self.length:
            # Replaced by one of transformers' own methods (crop, reorder_cache, ...):
            # hold what it left, from the next column on.
            self._hold(self.keys, self.values)
        end = self.length + key_states.shape[-2]
        if end > self._keys.shape[-2]:
            self._hold(self.keys, self.values, more=key_states.shape[-2])
        self._keys[..., self.length : end, :] = key_states
        self._values[..., self.length : end, :] = value_states
        self.length = end
        self._view()
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._keys = self._keys[indices, ...]
        self._values = self._values[indices, ...]
        self._view()


class HFSession:
    def __init__(self, backend: HFBackend, prompts: list[list[int]]) -> None:
        self.backend = backend
        device = backend.device
        width = max(len(p) for p in prompts)
        ids = torch.zeros((len(prompts), width), dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
        self.mask = mask.to(device)
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)
        self.next_position = positions[:, -1:] + 1
        with torch.inference_mode():
            out = backend.model(
                input_ids=ids.to(device),
                attention_mask=self.mask,
                position_ids=positions,
                use_cache=True,
            )
        self.cache = out.past_key_values
        layers = getattr(self.cache, "layers", None)
        if len(prompts) > 1 and layers and all(type(layer) is DynamicLayer for layer in layers):
            self.cache.layers = [
                GrowingLayer(layer.keys, layer.values, limit=backend.max_context)
                for layer in layers
            ]
        self._logits = out.logits[:, -1, :].float()

    def logits(self) -> torch.Tensor:
        return self._logits.cpu()

    def advance(self, tokens: list[int]) -> None:
        device = self.backend.device
        step = torch.tensor(tokens, dtype=torch.long, device=device).unsqueeze(-1)
        self.mask = torch.cat([self.mask, torch.ones_like(step)], dim=-1)
        with torch.inference_mode():
            out = self.backend.model(
                input_ids=step,
                attention_mask=self.mask,
                position_ids=self.next_position,
                past_key_values=self.cache,
                use_cache=True,
            )
        self.next_position = self.next_position + 1
        self.cache = out.past_key_values
        self._logits = out.logits[:, -1, :].float()

    def join(self, prompts: list[list[int]]) -> bool:
        """Add ``prompts`` as new rows after the others; False where the cache cannot merge.

        Only the new prompts are prefilled; both caches are left-padded to the
        longer one (the mask hides the padding) and stacked, so the rows already
        decoding are not computed again.
        """
        layers = getattr(self.cache, "layers", None)
        if not layers or any(type(layer) not in (DynamicLayer, GrowingLayer) for layer in layers):
            return False
        other = HFSession(self.backend, prompts)
        width = max(self.mask.shape[-1], other.mask.shape[-1])
        # A lone row's layers until now, or a batch's: from here on a batch's.
        self.cache.layers = [
            GrowingLayer(
                torch.cat([_left_pad(mine.keys, width), _left_pad(theirs.keys, width)]),
                torch.cat([_left_pad(mine.values, width), _left_pad(theirs.values, width)]),
                limit=self.backend.max_context,
            )
            for mine, theirs in zip(layers, other.cache.layers, strict=True)
        ]
        self.mask = torch.cat([_left_pad(self.mask, width), _left_pad(other.mask, width)])
        self.next_position = torch.cat([self.next_position, other.next_position])
        self._logits = torch.cat([self._logits, other._logits])
        return True

    def keep(self, rows: list[int]) -> None:
        index = torch.tensor(rows, dtype=torch.long, device=self.backend.device)
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.next_position = self.next_position[index]
        self._logits = self._logits[index]


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Zeros before the sequence dimension (the last of a mask, the third of keys and values)."""
    missing = width - (tensor.shape[-1] if tensor.dim() == 2 else tensor.shape[-2])
    if missing == 0:
        return tensor
    padding = (missing, 0) if tensor.dim() == 2 else (0, 0, missing, 0)
    return torch.nn.functional.pad(tensor, padding)


def pick_device() -> tuple[torch.device, torch.dtype]:
    """The first GPU in half precision when torch sees one, else the CPU in float32."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32


class HFBackend:
    kind = "transformers"

    def __init__(self, spec: ModelSpec, *, max_batch: int, threads: int) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.device, dtype = pick_device()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(spec.path)
            self.model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot load {spec.path}: {exc}") from exc
        self.model.to(self.device).eval()
        config = self.model.config
        limit = getattr(config, "n_positions", None) or getattr(
            config, "max_position_embeddings", None
        )
        self.max_context = min(spec.context_length, limit or spec.context_length)
        self.eos_token_id = self.tokenizer.eos_token_id
        self.max_batch = max_batch

    def start(self, prompts: list[list[int]]) -> HFSession:
        return HFSession(self, prompts)

    def memory_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.model.state_dict().values())


def load(spec: ModelSpec, *, max_batch: int = 8, threads: int = 0) -> HFBackend:
    return HFBackend(spec, max_batch=max_batch, threads=threads)
