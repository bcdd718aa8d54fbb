"""A nightly export, disabled: an admin enables it (and edits its kwargs) under Periodic tasks."""

import json

from django.db import migrations

NAME = "Nightly dataset export"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=NAME,
        task="oasst.exports.jobs.scheduled_export",
        crontab=crontab,
        enabled=False,
        kwargs=json.dumps(
            {
                "filters": {"states": ["ready_for_export"], "labels": True, "anonymize": True},
                "format": "jsonl",
                "shape": "tree",
                "gzip": True,
            }
        ),
        description="Writes an anonymised tree export every night; files expire after "
        "OASST_EXPORT_RETENTION_DAYS. Edit the keyword arguments to change the filters.",
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
