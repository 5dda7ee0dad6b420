"""A worker's pool process told to stop (SIGTERM: honcho sends it to every process of the
demo on Ctrl-C, as systemd or Kubernetes do on a stop) finishes its task quickly instead
of dying mid-task: a run sleeping on a quote hands its lease back and returns
(quotes.services.leases.wait), so the restarted engine resumes the quote at once. The
worker's main process stops as usual (warm shutdown): it lets each pool process finish
its task and then ends it, without an ERROR for a process killed by a signal.

billiard replaces a pool process's SIGTERM handler after Celery's initializer unless it is
ignored: the process starts ignoring it, and a task that runs turns it into `stopping`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

stopping = threading.Event()
_pool_process = threading.Event()


def ignore_sigterm_in_pool_process() -> None:
    """At a pool process's start (worker_process_init)."""
    _pool_process.set()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def note_sigterm_while_working() -> None:
    """Before a task (task_prerun), in a pool process only: SIGTERM sets `stopping`."""
    if _pool_process.is_set():
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())


def exit_at_once(worker) -> None:
    """After a `celery worker` process stopped its pool and flushed its acks
    (worker_shutdown): exit without the interpreter's teardown, which takes seconds of
    garbage collection on this app's objects, past the time honcho (or systemd) waits
    before SIGKILL."""
    if type(worker).__module__ != "celery.apps.worker":
        return  # a worker embedded in another program: leave its process alone
    logging.shutdown()
    os._exit(worker.exitcode or 0)
