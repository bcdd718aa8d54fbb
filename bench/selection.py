"""Next-task latency as the data grows: 10k and 100k trees (about 1M messages) from generate_data.

Measures, on the database of DATABASE_URL (PostgreSQL; or SQLite with
--db sqlite): the selector alone (``selection.choose_task``, reads only) and
the whole ``tasks.request_task`` (lottery check, pending limit, selection,
payload, insert), for random people and languages. The baseline, measured in
the same run, is a primary-key lookup of a random message through the ORM.
Prints ONE JSON line.

    DATABASE_URL=postgres://… .venv/bin/python bench/selection.py
    .venv/bin/python bench/selection.py --db sqlite --sizes 10000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda f: ordered[min(len(ordered) - 1, int(f * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": round(pick(0.5), 2), "p95_ms": round(pick(0.95), 2), "n": len(ordered)}


def measure(samples: int, langs: list[str], rng: random.Random) -> dict[str, Any]:
    from django.db import connection

    from oasst.accounts.models import User
    from oasst.trees import selection, tasks
    from oasst.trees.errors import OasstError
    from oasst.trees.models import Message, Task

    people = list(User.objects.filter(username__startswith="gen-").order_by("pk")[:500])
    message_ids = list(Message.objects.order_by("?").values_list("pk", flat=True)[:samples])
    baseline, choose, request = [], [], []
    outcomes: dict[str, int] = {}
    created: list[object] = []
    for index in range(samples):
        person = rng.choice(people)
        lang = rng.choice(langs)
        started = time.perf_counter()
        Message.objects.filter(pk=message_ids[index % len(message_ids)]).first()
        baseline.append(time.perf_counter() - started)
        started = time.perf_counter()
        try:
            kind = selection.choose_task(person, lang).type
        except OasstError as exc:
            kind = f"error {exc.error_code}"
        choose.append(time.perf_counter() - started)
        outcomes[str(kind)] = outcomes.get(str(kind), 0) + 1
        started = time.perf_counter()
        with contextlib.suppress(OasstError):
            created.append(tasks.request_task(person, lang=lang).pk)
        request.append(time.perf_counter() - started)
    Task.objects.filter(pk__in=created).delete()
    return {
        "choose_task": percentiles(choose),
        "request_task": percentiles(request),
        "baseline_pk_lookup": percentiles(baseline),
        "chosen_types": dict(sorted(outcomes.items())),
        "db": connection.vendor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--messages-per-tree", type=int, default=12)
    parser.add_argument("--langs", default="en,es,de")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the PostgreSQL data of an earlier run and measure only the largest size",
    )
    args = parser.parse_args()
    if args.db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        os.environ["OASST_DATA_DIR"] = tempfile.mkdtemp(prefix="oasst-bench-sel-")
    elif not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (or pass --db sqlite)")
    os.environ.setdefault("SECRET_KEY", "s" * 64)
    os.environ.setdefault("OASST_HTTPS", "false")
    os.environ["DJANGO_SETTINGS_MODULE"] = "oasst.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from oasst.trees.models import Message, MessageTree
    from oasst.trees.synthetic_data import generate_dataset

    call_command("migrate", verbosity=0)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.reuse and connection.vendor == "postgresql":
        # ANALYZE too: right after a bulk load the planner's statistics are stale.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        sizes = sizes[-1:]
        if MessageTree.objects.count() < sizes[0]:
            raise SystemExit(f"--reuse needs {sizes[0]} trees in the database")
    elif connection.vendor == "postgresql":  # SQLite starts in a fresh directory
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE trees_journalevent, trees_emojireaction, trees_ranking, trees_textlabel, "
                "trees_messagerevision, trees_task, trees_message, trees_messagetree CASCADE"
            )
    langs = [code for code in args.langs.split(",") if code]
    rng = random.Random(0)
    results: dict[str, Any] = {}
    have = 0
    for size in sizes:
        started = time.perf_counter()
        if args.reuse:
            have = size
        if size > have:
            generate_dataset(
                size - have,
                messages_per_tree=args.messages_per_tree,
                langs=langs,
                seed=size,
                active_caps=have == 0,
            )
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
        generated_in = time.perf_counter() - started
        have = size
        results[str(size)] = {
            "trees": MessageTree.objects.count(),
            "messages": Message.objects.count(),
            "active_trees": MessageTree.objects.filter(active=True).count(),
            "generate_seconds": round(generated_in, 1),
            **measure(args.samples, langs, rng),
        }
    print(json.dumps({"bench": "selection", "samples": args.samples, "target_p95_ms": 50,
                      "results": results}))  # fmt: skip


if __name__ == "__main__":
    main()
