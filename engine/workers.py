"""How a worker stops and starts: a quote being polled is handed back, not held to the end.

A worker told to stop (SIGTERM: a deploy, or the demo's Ctrl-C, where honcho signals each
worker's whole process group) must not keep the quote it polls until it is killed, nor
leave it for MOMENTUM_LEASE_SECONDS: the run waiting between two polls hands its lease
back (quotes.services.leases.STOPPING) and ends, the warm shutdown completes, and a
worker that starts asks for a sweep at once, which resumes the quote on its Momentum id.
Connected by EngineConfig.ready(), in every worker process.
"""

from __future__ import annotations

import signal

from billiard.common import _shutdown_cleanup
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_ready,
    worker_shutting_down,
)

from engine import tasks
from quotes.services.leases import STOPPING, WAITING

# In a pool process of this worker (set by worker_process_init): whether a task runs now.
_pool_child = {"is": False, "in_task": False}


@worker_process_init.connect
def _take_sigterm(**kwargs) -> None:
    """A pool process sent SIGTERM (honcho's Ctrl-C; Celery ending a task on a lost
    broker connection) is handled by `_sigterm` rather than killed outright. Ignored
    until its first task (billiard then leaves it so), handled from then on."""
    _pool_child["is"] = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _sigterm(signum, frame) -> None:
    """Idle: ignore it (the warm shutdown closes the pool). Waiting between two polls of
    a quote: hand the quote back and end the task cleanly. In any other task: exit as
    billiard's own handler does (the task's message is redelivered). A hard time limit
    still kills: billiard follows SIGTERM with SIGKILL."""
    if not _pool_child["in_task"]:
        return
    if WAITING.is_set():
        STOPPING.set()
        return
    _shutdown_cleanup(signum, frame)


@task_prerun.connect
def _task_starts(**kwargs) -> None:
    if not _pool_child["is"]:
        return  # the main process (solo pool): its SIGTERM is Celery's warm shutdown
    STOPPING.clear()  # a stop meant for an earlier task (its worker went on) is over
    _pool_child["in_task"] = True
    signal.signal(signal.SIGTERM, _sigterm)


@task_postrun.connect
def _task_ends(**kwargs) -> None:
    _pool_child["in_task"] = False


@worker_shutting_down.connect
def _stop_polling(**kwargs) -> None:
    """Tasks run in the worker's own process (solo or threads pool): end a quote's
    polling early there too, its lease handed back."""
    STOPPING.set()


@worker_ready.connect
def _resume_handed_back_quotes(**kwargs) -> None:
    """A quote handed back by a stopping worker (or left by a dead one) resumes now, not
    at the next scheduled sweep."""
    tasks.sweep.delay()
