from django.core.management.base import BaseCommand

from oasst.exports.runs import expire_exports


class Command(BaseCommand):
    help = (
        "Delete export files past OASST_EXPORT_RETENTION_DAYS and fail exports whose worker died."
    )

    def handle(self, *args: object, **options: object) -> None:
        result = expire_exports()
        self.stdout.write(", ".join(f"{count} {name}" for name, count in result.items()))
