"""Export speed and memory at scale: `export_trees` (tree JSONL .gz) against a plain COPY.

Fills the PostgreSQL database ``oasst_exports_bench`` (created if missing) with
the trees app's ``generate_data`` up to ``--messages`` messages, then in the
same run measures

* the baseline: ``COPY (SELECT <the exported columns> FROM trees_message) TO
  STDOUT`` through psycopg, once read and dropped (plain) and once through
  zlib level 6 in the same process (copy + gzip), in rows/s; the goal is
  measured against the latter. For comparison it also reports the COPY
  through the compressor the export's gzip members use
  (``oasst.exports.sinks.DEFLATE``: ISA-L's igzip, level 1);
* ``manage.py export_trees --out X.trees.jsonl.gz`` with default filters
  (ready_for_export trees, accepted undeleted messages, anonymised), in a
  child process: wall time, messages written/s and its peak RSS.

    python bench/export.py                      # ~1M messages; first run also generates them
    python bench/export.py --messages 200000    # smaller
    BENCH_DATABASE_URL=postgres://user@host:5432/oasst_exports_bench python bench/export.py

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oasst.exports.sinks import DEFLATE  # noqa: E402 - no Django in it

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oasst_exports_bench"
COLUMNS = (
    "id, parent_id, user_id, created_at, text, role, lang, review_count, review_result, "
    "deleted, rank, synthetic, model_name, emojis, tree_id"
)


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "k" * 60),
        "OASST_HTTPS": "false",
        "DJANGO_SETTINGS_MODULE": "oasst.settings",
        "PYTHONPATH": str(ROOT),
        "OASST_DATA_DIR": os.environ.get("OASST_DATA_DIR", str(ROOT / "data" / "bench")),
    }


def _ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _manage(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout + result.stderr


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM trees_message").fetchone()[0]


def _fill(url: str, messages: int) -> float:
    have = _count(url)
    if have >= messages * 0.9:
        return 0.0
    started = time.perf_counter()
    trees = (messages - have) // 10
    _manage(url, "generate_data", "--trees", str(trees), "--messages-per-tree", "10",
            "--seed", str(have))  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _packer(deflate: str) -> Any:
    """A streaming gzip compressor: zlib at level 6, or the export's own (``sinks.DEFLATE``)."""
    if deflate == "zlib":
        return zlib.compressobj(6, zlib.DEFLATED, 31)
    if deflate == "isal":
        from isal import isal_zlib

        return isal_zlib.compressobj(DEFLATE.level, isal_zlib.DEFLATED, 31)
    raise ValueError(deflate)


def _copy(url: str, *, deflate: str | None) -> tuple[int, float, int]:
    """COPY every message row to this process; returns rows, seconds, bytes (compressed if so)."""
    started = time.perf_counter()
    rows = size = 0
    packer = _packer(deflate) if deflate else None
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY (SELECT {COLUMNS} FROM trees_message) TO STDOUT") as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")
                size += len(packer.compress(block)) if packer else len(block)
        if packer:
            size += len(packer.flush())
    return rows, time.perf_counter() - started, size


def _export(url: str, out: Path) -> dict[str, float]:
    """Run export_trees in a child process, sampling its RSS; returns time, peak RSS, counts."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "manage.py", "export_trees", "--out", str(out)],
        cwd=ROOT,
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    process = psutil.Process(child.pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _stdout, stderr = child.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode:
        raise RuntimeError(f"export_trees failed: {stderr}")
    words = stderr.strip().splitlines()[-1].split()  # "wrote T trees, M messages in S s"
    return {
        "seconds": seconds,
        "peak_rss_mb": peak / 2**20,
        "trees": int(words[1]),
        "messages": int(words[3]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    _ensure_database(url)
    _manage(url, "migrate", "--noinput")
    fill_s = _fill(url, args.messages)
    copy_rows, copy_s, copy_bytes = _copy(url, deflate=None)
    gzip_rows, gzip_s, gzip_bytes = _copy(url, deflate="zlib")
    own = DEFLATE.name if DEFLATE.name != "zlib" else None
    own_rows, own_s, own_bytes = _copy(url, deflate=own) if own else (gzip_rows, gzip_s, gzip_bytes)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.trees.jsonl.gz"
        export = _export(url, out)
        export_bytes = out.stat().st_size
    rate = export["messages"] / export["seconds"]
    gzip_rate = gzip_rows / gzip_s
    own_rate = own_rows / own_s
    print(
        json.dumps(
            {
                "bench": "export",
                "messages_in_db": copy_rows,
                "generate_s": round(fill_s, 1),
                "export_trees": export["trees"],
                "export_messages": export["messages"],
                "export_s": round(export["seconds"], 2),
                "export_messages_per_s": round(rate),
                "export_peak_rss_mb": round(export["peak_rss_mb"], 1),
                "export_file_mb": round(export_bytes / 2**20, 1),
                "baseline_copy_rows_per_s": round(copy_rows / copy_s),
                "baseline_copy_gzip6_rows_per_s": round(gzip_rate),
                "baseline_copy_mb": round(copy_bytes / 2**20, 1),
                "baseline_copy_gzip6_mb": round(gzip_bytes / 2**20, 1),
                "export_vs_copy_gzip": round(rate / gzip_rate, 2),
                # The same COPY through the export's own compressor, for comparison.
                "export_deflate": f"{DEFLATE.name} level {DEFLATE.level}",
                "baseline_copy_export_deflate_rows_per_s": round(own_rate),
                "baseline_copy_export_deflate_mb": round(own_bytes / 2**20, 1),
                "export_vs_copy_export_deflate": round(rate / own_rate, 2),
                # "binary" or "c": psycopg's C loaders, which the export reads rows with.
                "psycopg_impl": psycopg.pq.__impl__,
                "goal_half_of_copy_gzip": rate >= gzip_rate / 2,
                "goal_rss_under_300mb": export["peak_rss_mb"] < 300,
            }
        )
    )


if __name__ == "__main__":
    main()
