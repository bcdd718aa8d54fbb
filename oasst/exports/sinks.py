"""Where JSON lines go: the target file, plain or gzipped, written beside the thread that encodes.

zlib and file writes release the GIL, so compressing and writing on other
threads lets them run on another core while the writer encodes the next
lines. ``GzipMembers`` goes further and compresses several chunks at once,
each as a gzip member of its own: concatenated members are one valid gzip
file (RFC 1952, section 2.2), which gzip, zcat, Python's ``gzip`` module and
Hugging Face ``datasets`` read as a whole. The members are deflated by
ISA-L's igzip (``isal``) where it is installed: about as small as zlib's
level 6 and several times faster, so the compression no longer takes a core
of its own from PostgreSQL and the writer.
"""

from __future__ import annotations

import gzip
import json
import queue
import threading
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

LEVEL = 6


@dataclass(frozen=True)
class Deflate:
    """A gzip compressor for whole members: ``compress(data, level, 31)`` gives one gzip member.

    Each must release the GIL while it works, as zlib does, or the members
    would not be compressed beside the writer.
    """

    name: str
    compress: Callable[[bytes, int, int], bytes]
    level: int


def _deflates() -> dict[str, Deflate]:
    found = {"zlib": Deflate("zlib", zlib.compress, LEVEL)}
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - a pinned dependency; zlib still works
        pass
    else:
        # ISA-L's igzip at level 1 writes files within a few percent of zlib's
        # level 6 (about 1% larger on exports), several times faster.
        found["isal"] = Deflate("isal", isal_zlib.compress, 1)
    return found


DEFLATES = _deflates()
# What gzip members are compressed with: ISA-L where it is installed, else zlib.
DEFLATE = DEFLATES.get("isal", DEFLATES["zlib"])
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class BackgroundWriter:
    """Writes (and so compresses) on a second thread; zlib releases the GIL while it works."""

    def __init__(self, target: BinaryIO | gzip.GzipFile) -> None:
        self.target = target
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="export-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if self.error is None:
                try:
                    self.target.write(chunk)
                except BaseException as exc:  # handed to the caller on the next write or close
                    self.error = exc

    def write(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.chunks.put(chunk)

    def close(self) -> None:
        self.chunks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class GzipMembers:
    """Compresses each chunk into a gzip member on a pool of threads and writes them in order.

    At most ``ahead`` chunks wait to be written, so memory holds a few chunks
    whatever the size of the export. Members carry no name and a zero mtime,
    so the same lines always give the same file.
    """

    def __init__(
        self, target: BinaryIO, *, workers: int = 2, ahead: int = 4, deflate: Deflate = DEFLATE
    ) -> None:
        self.target = target
        self.ahead = ahead
        self.deflate = deflate
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export-gzip")
        self.pending: deque[Future[bytes]] = deque()
        self.members = 0

    def write(self, chunk: bytes) -> None:
        deflate = self.deflate
        self.pending.append(self.pool.submit(deflate.compress, chunk, deflate.level, 31))
        while len(self.pending) > self.ahead:
            self._write_next()

    def _write_next(self) -> None:
        self.target.write(self.pending.popleft().result())
        self.members += 1

    def close(self) -> None:
        try:
            while self.pending:
                self._write_next()
            if not self.members:
                # An empty export is still a gzip file: one empty member.
                self.target.write(self.deflate.compress(b"", self.deflate.level, 31))
                self.members += 1
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


class JsonlSink:
    """JSON Lines, optionally gzipped; lines are joined into large writes for speed.

    ``members`` compresses in parallel gzip members (``GzipMembers``) instead
    of one gzip stream on one thread; the lines are the same either way.
    """

    def __init__(self, target: BinaryIO, *, compress: bool, members: bool = False) -> None:
        self.compressor: gzip.GzipFile | None = None
        self.output: BackgroundWriter | GzipMembers
        if compress and members:
            self.output = GzipMembers(target)
        else:
            if compress:
                self.compressor = gzip.GzipFile(
                    filename="", mode="wb", fileobj=target, compresslevel=LEVEL, mtime=0
                )
            self.output = BackgroundWriter(self.compressor or target)
        self.chunk_size = (1 << 20) if members else (1 << 18)
        self.lines: list[str] = []
        self.pending = 0

    def add(self, obj: dict[str, Any]) -> None:
        """Write one object as a line."""
        self.add_line(_dumps(obj) + "\n")

    def add_line(self, line: str) -> None:
        """Write one line, which ends with its newline."""
        self.lines.append(line)
        self.pending += len(line)
        if self.pending >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.output.write("".join(self.lines).encode())
            self.lines = []
            self.pending = 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.output.close()
            if self.compressor is not None:
                self.compressor.close()
