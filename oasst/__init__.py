"""oasst: a self-hosted, all-in-one Open-Assistant server."""

from oasst.celery import app as celery_app

__all__ = ["celery_app"]
