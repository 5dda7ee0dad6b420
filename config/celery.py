"""The Celery application (its settings live in config/settings.py, CELERY_*), and the one
way a lower layer wakes the engine."""

import os
import signal

from celery import Celery
from celery.signals import task_prerun, worker_process_init, worker_ready, worker_shutting_down
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


# Pool processes of this worker (set in each by worker_process_init), and whether this one
# has its SIGTERM handler yet.
_pool_child = {"is": False, "handled": False}


@worker_process_init.connect
def _ignore_sigterm_until_a_task(**kwargs) -> None:
    """A pool process sent SIGTERM (a demo's Ctrl-C: honcho signals the worker's whole
    process group) must not die in its task. Ignored here (billiard then leaves it so);
    from its first task on, it ends the task early and cleanly instead (below). The main
    process's warm shutdown then closes the pool. A hard time limit still kills: billiard
    follows SIGTERM with SIGKILL."""
    _pool_child["is"] = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@task_prerun.connect
def _stop_gently(**kwargs) -> None:
    """In a pool process, SIGTERM sets quotes.services.leases.STOPPING: a quote being
    polled hands its lease back and the task ends (not the main process: its SIGTERM is
    Celery's warm shutdown)."""
    if not _pool_child["is"] or _pool_child["handled"]:
        return
    from quotes.services.leases import STOPPING

    signal.signal(signal.SIGTERM, lambda signum, frame: STOPPING.set())
    _pool_child["handled"] = True


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
