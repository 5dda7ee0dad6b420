"""The Celery application. Its settings live in config/settings.py (CELERY_*)."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _recycle_old_connections(**kwargs) -> None:
    # What Django does at the start of a request: drop a connection that is broken or
    # older than CONN_MAX_AGE, so a restarted database costs one failed task at most.
    from django.db import close_old_connections

    close_old_connections()
