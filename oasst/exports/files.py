"""Files that appear whole or not at all, and the checksum of what was written."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import tempfile
from pathlib import Path
from typing import BinaryIO

PARTIAL_PREFIX = ".partial-"


class HashingWriter(io.RawIOBase):
    """Passes bytes through to ``target`` while counting them and hashing them with SHA-256."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.size = 0
        self._sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._sha256.update(view)
        self.target.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.target.flush()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


class PendingFile:
    """A file under construction in ``directory`` that gets its name only when published.

    On Linux it is opened with ``O_TMPFILE``: it has no name at all until
    ``publish`` links it in, so a process killed half-way (even by SIGKILL)
    leaves nothing behind. Where that is not available it is a hidden
    ``.partial-*`` file, removed by ``discard`` and, after a crash, by the
    expiry job.
    """

    def __init__(self, directory: Path, *, mode: int = 0o640) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.temp_path: Path | None = None
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY, mode)
        except (AttributeError, OSError):
            fd, name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=".part")
            os.chmod(fd, mode)
            self.temp_path = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def publish(self, path: Path) -> None:
        """Give the finished file its name in one atomic step (replacing any file of that name)."""
        self.file.flush()
        os.fsync(self.file.fileno())
        if self.temp_path is not None:
            os.replace(self.temp_path, path)
        else:
            try:
                self._link(path)
            except FileExistsError:
                # link() never overwrites: link under a fresh name, then rename over.
                spare = path.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(8)}")
                self._link(spare)
                os.replace(spare, path)
        self.file.close()
        self.temp_path = None

    def _link(self, path: Path) -> None:
        # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names an O_TMPFILE file;
        # CPython only calls linkat (not link) when a directory fd is given.
        proc_fds = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.link(str(self.file.fileno()), path, src_dir_fd=proc_fds, follow_symlinks=True)
        finally:
            os.close(proc_fds)

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)
            self.temp_path = None
