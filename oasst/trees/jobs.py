"""Periodic tree-engine jobs (beat entries in settings.CELERY_BEAT_SCHEDULE); each calls one function."""

from __future__ import annotations

from celery import shared_task

from oasst.trees import maintenance


@shared_task(name="oasst.trees.jobs.expire_tasks")
def expire_tasks() -> int:
    return maintenance.expire_stale_tasks()


@shared_task(name="oasst.trees.jobs.run_lottery")
def run_lottery() -> int:
    return maintenance.run_lottery_everywhere()


@shared_task(name="oasst.trees.jobs.check_active_trees")
def check_active_trees() -> int:
    return maintenance.check_active_trees()


@shared_task(name="oasst.trees.jobs.retry_scoring")
def retry_scoring() -> int:
    return maintenance.retry_failed_scoring()
