import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oasst.exports.importer import import_file
from oasst.trees.models import TreeState


class Command(BaseCommand):
    # The system checks load every URLconf and with it the model runner and torch
    # (seconds, hundreds of MB) that a dataset command never uses; `check` runs them.
    requires_system_checks: list[str] = []
    help = (
        "Import an oasst dataset file: tree or message JSONL (gzipped or not) or Parquet. "
        "Idempotent by message id; prints what was rejected and why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument(
            "--state", choices=TreeState.values, help="state of new trees (overrides the file's)"
        )
        parser.add_argument(
            "--synthetic",
            action="store_true",
            help="model-generated replies: synthetic unless the file says otherwise; "
            "new trees wait for ranking (backlog_ranking)",
        )
        parser.add_argument("--origin", default="", help="origin of new trees (default: file name)")
        parser.add_argument("--model-name", default="", help="model name for synthetic messages")
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything, store nothing"
        )
        parser.add_argument("--report", help="also write the full report as JSON to this file")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["path"]))
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        try:
            report = import_file(
                path,
                state=options["state"],
                synthetic=bool(options["synthetic"]),
                origin=str(options["origin"]),
                model_name=str(options["model_name"]),
                dry_run=bool(options["dry_run"]),
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        for rejection in report.rejected:
            self.stderr.write(
                f"line {rejection['line']}: {rejection['message_id'] or '-'}: {rejection['reason']}"
            )
        if report.rejected_count > len(report.rejected):
            self.stderr.write(f"… and {report.rejected_count - len(report.rejected)} more")
        if options["report"]:
            Path(str(options["report"])).write_text(json.dumps(report.as_dict(), indent=2))
        self.stdout.write(report.summary())
