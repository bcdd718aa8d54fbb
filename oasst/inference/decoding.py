"""Turning generated ids into text as they come, and cutting at stop sequences."""

from __future__ import annotations

from collections.abc import Callable


class TextStream:
    """Incremental detokenisation with stop sequences.

    Decoding token by token breaks multi-byte characters and, for some
    tokenizers, leading spaces; so each step decodes a short window of recent
    ids and emits only the new, complete part. Text that might be the start
    of a stop sequence is held back until it is known not to be one.
    """

    def __init__(self, decode: Callable[[list[int]], str], stop: tuple[str, ...] = ()) -> None:
        self.decode = decode
        self.stop = tuple(s for s in stop if s)
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0
        self.text = ""
        self.emitted = 0
        self.stopped = False

    def push(self, token: int) -> str:
        """Add one id; returns the text that became final (maybe empty)."""
        self.ids.append(token)
        before = self.decode(self.ids[self.prefix_offset : self.read_offset])
        after = self.decode(self.ids[self.prefix_offset :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before) :]
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
        return self._release()

    def finish(self) -> str:
        """The held-back rest of the text once generation has ended."""
        if self.stopped:
            return ""
        tail = self.decode(self.ids[self.prefix_offset :])
        before = self.decode(self.ids[self.prefix_offset : self.read_offset])
        if len(tail) > len(before):
            self.text += tail[len(before) :].rstrip("\ufffd")
        out = self.text[self.emitted :]
        self.emitted = len(self.text)
        return out

    def _release(self) -> str:
        for stop in self.stop:
            index = self.text.find(stop, max(0, self.emitted - len(stop)))
            if index != -1:
                self.stopped = True
                self.text = self.text[:index]
                out = self.text[self.emitted :] if index > self.emitted else ""
                self.emitted = len(self.text)
                return out
        hold = 0
        for stop in self.stop:
            for size in range(min(len(stop) - 1, len(self.text)), 0, -1):
                if self.text.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        end = max(self.emitted, len(self.text) - hold)
        out = self.text[self.emitted : end]
        self.emitted = end
        return out
