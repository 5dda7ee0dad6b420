"""The Celery application (its settings live in config/settings.py, CELERY_*), and the one
way a lower layer wakes the engine."""

import os
import signal

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_ready,
    worker_shutting_down,
)
from django.db import close_old_connections, transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def wake_engine() -> None:
    """Ask the engine, after the current transaction commits, to start the next quote.

    The engine's dispatch task is named rather than imported: the apps that wake the
    engine (quotes, bulk) sit below it (engine → bulk → quotes → momentum) and only say
    "there is work". This module is the one place outside engine/ that names engine tasks
    (this one, and the sweep a starting worker asks for).
    """
    transaction.on_commit(lambda: app.send_task("engine.tasks.dispatch"))


@task_prerun.connect
def _recycle_old_connections(**kwargs) -> None:
    # What Django does at the start of a request: drop a connection that is broken or
    # older than CONN_MAX_AGE, so a restarted database costs one failed task at most.
    close_old_connections()


# In a pool process of this worker (set by worker_process_init): whether a task runs now.
_pool_child = {"is": False, "in_task": False}


@worker_process_init.connect
def _take_sigterm(**kwargs) -> None:
    """A pool process sent SIGTERM (the demo's Ctrl-C: honcho signals the worker's whole
    process group; celery ending a task on a lost broker connection) is handled by
    `_sigterm` rather than killed outright. SIGTERM is ignored here (billiard then leaves
    it so) and the handler set at the first task."""
    _pool_child["is"] = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _sigterm(signum, frame) -> None:
    """Idle: ignore it (the warm shutdown closes the pool). Waiting between two polls of
    a quote: hand the quote back and end the task cleanly (quotes.services.leases). In any
    other task: exit as billiard's own handler does (the task's message is redelivered).
    A hard time limit still kills: billiard follows SIGTERM with SIGKILL."""
    from quotes.services.leases import STOPPING, WAITING

    if not _pool_child["in_task"]:
        return
    if WAITING.is_set():
        STOPPING.set()
        return
    from billiard.common import _shutdown_cleanup

    _shutdown_cleanup(signum, frame)


@task_prerun.connect
def _task_starts(**kwargs) -> None:
    if not _pool_child["is"]:
        return  # the main process (solo pool): its SIGTERM is Celery's warm shutdown
    from quotes.services.leases import STOPPING

    STOPPING.clear()  # a stop meant for an earlier task (its worker went on) is over
    _pool_child["in_task"] = True
    signal.signal(signal.SIGTERM, _sigterm)


@task_postrun.connect
def _task_ends(**kwargs) -> None:
    _pool_child["in_task"] = False


@worker_shutting_down.connect
def _stop_polling(**kwargs) -> None:
    """A worker told to stop (warm shutdown) whose tasks run in its own process (the solo
    or threads pool) ends a quote's polling early too, its lease handed back."""
    from quotes.services.leases import STOPPING

    STOPPING.set()


@worker_ready.connect
def _resume_handed_back_quotes(**kwargs) -> None:
    """A worker that starts asks for a sweep at once: a quote handed back by a stopping
    worker (or left by a dead one) resumes now, not at the next scheduled sweep."""
    app.send_task("engine.tasks.sweep")
