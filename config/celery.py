"""The Celery application (its settings live in config/settings.py, CELERY_*), and the one
way a lower layer wakes the engine."""

import os

from celery import Celery
from celery.signals import task_prerun
from django.db import close_old_connections, transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def wake_engine() -> None:
    """Ask the engine, after the current transaction commits, to start the next quote.

    The engine's dispatch task is named rather than imported: the apps that wake the
    engine (quotes, bulk) sit below it (engine → bulk → quotes → momentum) and only say
    "there is work". This is the one place outside engine/ that names an engine task.
    """
    transaction.on_commit(lambda: app.send_task("engine.tasks.dispatch"))


@task_prerun.connect
def _recycle_old_connections(**kwargs) -> None:
    # What Django does at the start of a request: drop a connection that is broken or
    # older than CONN_MAX_AGE, so a restarted database costs one failed task at most.
    close_old_connections()
