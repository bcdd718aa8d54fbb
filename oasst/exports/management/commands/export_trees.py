import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oasst.exports.anonymizer import Anonymizer, read_instance_salt
from oasst.exports.files import PendingFile
from oasst.exports.filters import EXCLUDE, INCLUDE, ONLY, InvalidFilters, parse_filters
from oasst.exports.writer import ExportCounts, write_dataset


class Command(BaseCommand):
    # The system checks load every URLconf and with it the model runner and torch
    # (seconds, hundreds of MB) that a dataset command never uses; `check` runs them.
    requires_system_checks: list[str] = []
    help = (
        "Write trees in the oasst format (reference/oasst-format.md). A name ending in .gz is "
        "gzipped; '-' writes to stdout. Ids are anonymised unless --no-anonymize."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="file path, or - for stdout")
        parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
        parser.add_argument("--shape", choices=["tree", "message"], default="tree")
        parser.add_argument(
            "--state",
            action="append",
            help="tree state (repeat or comma-separate); 'all' for every state; "
            "default ready_for_export",
        )
        parser.add_argument("--lang", action="append", help="prompt language (repeatable)")
        parser.add_argument("--since", help="trees created on or after (YYYY-MM-DD or ISO)")
        parser.add_argument("--until", help="trees created up to (YYYY-MM-DD inclusive, or ISO)")
        for name in ("deleted", "spam", "synthetic"):
            group = parser.add_mutually_exclusive_group()
            group.add_argument(f"--include-{name}", action="store_true")
            group.add_argument(f"--{name}-only", action="store_true")
        parser.add_argument("--prompts-only", action="store_true")
        parser.add_argument("--user", type=int, help="only this user's messages (flat)")
        parser.add_argument("--labels", action="store_true", help="add labels {value, count}")
        parser.add_argument("--events", action="store_true", help="add emoji and ranking events")
        anonymize = parser.add_mutually_exclusive_group()
        anonymize.add_argument("--anonymize", dest="anonymize", action="store_true", default=True)
        anonymize.add_argument("--no-anonymize", dest="anonymize", action="store_false")
        parser.add_argument("--limit", type=int, help="at most N trees (or messages when flat)")
        parser.add_argument("--chunk-size", type=int, default=500, help="trees per page")

    def handle(self, *args: object, **options: object) -> None:
        filters_data: dict[str, object] = {
            "states": _split(options["state"]) or ["ready_for_export"],
            "langs": _split(options["lang"]),
            "since": options["since"],
            "until": options["until"],
            "prompts_only": options["prompts_only"],
            "user_id": options["user"],
            "labels": options["labels"],
            "events": options["events"],
            "anonymize": options["anonymize"],
            "limit": options["limit"],
        }
        for name in ("deleted", "spam", "synthetic"):
            filters_data[name] = (
                ONLY
                if options[f"{name}_only"]
                else INCLUDE
                if options[f"include_{name}"]
                else EXCLUDE
            )
        try:
            filters = parse_filters(filters_data)
        except InvalidFilters as exc:
            raise CommandError(str(exc)) from None
        out = str(options["out"])
        fmt = str(options["format"])
        if fmt == "parquet" and out == "-":
            raise CommandError("Parquet cannot be streamed to stdout; give a file name")
        compress = fmt == "jsonl" and ".gz" in Path(out).name
        anonymizer = Anonymizer(read_instance_salt()) if filters.anonymize else None
        started = time.perf_counter()

        def progress(counts: ExportCounts) -> None:
            if int(options["verbosity"]) > 1:
                self.stderr.write(f"  {counts.trees} trees, {counts.messages} messages")

        write = {
            "format": fmt,
            "shape": options["shape"],
            "compress": compress,
            "anonymizer": anonymizer,
            "chunk_size": int(options["chunk_size"]),
            "progress": progress,
        }
        try:
            if out == "-":
                counts = write_dataset(sys.stdout.buffer, filters, **write)
                sys.stdout.buffer.flush()
            else:
                path = Path(out).resolve()
                pending = PendingFile(path.parent, mode=0o644)
                try:
                    counts = write_dataset(pending.file, filters, **write)
                    pending.publish(path)
                except BaseException:
                    pending.discard()
                    raise
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if int(options["verbosity"]):
            self.stderr.write(
                f"wrote {counts.trees} trees, {counts.messages} messages "
                f"in {time.perf_counter() - started:.1f} s"
            )


def _split(values: object) -> list[str]:
    return [
        part.strip() for value in (values or []) for part in str(value).split(",") if part.strip()
    ]
