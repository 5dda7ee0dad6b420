"""The backstop of reading an upload (issue 18, item 1): the bounds (`bounds`, `reading`)
refuse every file we thought of; a file nobody thought of is read in a child process with
a memory and CPU limit and a wall-clock timeout, so it costs one clear error, not a worker.

The child only runs `reading.read_sheets` on the bytes it is given (no Django, no database)
and sends back the format and rows, or the `UploadRejected` message.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from dataclasses import dataclass

from bulk.spreadsheets.reading import Rows, UploadRejected, read_sheets

TOO_COMPLEX = (
    "This file is too complex to read: reading it needed more memory or time than an "
    "address list should. Save its addresses alone (one sheet, no formatting) as a new "
    "xlsx or csv file and upload that, or split the file into smaller ones."
)

# forkserver: a small clean process forks the readers; the web process's threads, sockets
# and database connections are never copied into them.
# The forkserver imports the readers once, so that each child starts with them.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["bulk.spreadsheets.isolated"])


@dataclass(frozen=True)
class ReadLimits:
    """What one read may spend: `memory_mb` on top of the reader's own start-up size,
    `cpu_seconds` of CPU, `timeout_seconds` of wall-clock time."""

    memory_mb: int = 512
    cpu_seconds: int = 20
    timeout_seconds: float = 30.0


def _address_space_bytes() -> int:
    """This process's current virtual size (Linux), else 0."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _child(conn, data: bytes, limits: ReadLimits) -> None:
    cap = _address_space_bytes() + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    try:
        answer = ("ok", read_sheets(data))
    except UploadRejected as exc:
        answer = ("rejected", str(exc))
    except MemoryError:
        answer = ("too_complex", None)
    del data
    try:
        conn.send(answer)
    except MemoryError:
        conn.send(("too_complex", None))
    conn.close()


def read_sheets_isolated(data: bytes, limits: ReadLimits) -> tuple[str, list[tuple[str, Rows]]]:
    """`read_sheets` in a child process within `limits`; raise UploadRejected (with what
    to do) if the child runs out of memory or time, or dies."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(sender, data, limits), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(limits.timeout_seconds):
            raise UploadRejected(TOO_COMPLEX)
        kind, value = receiver.recv()
    except (EOFError, OSError) as exc:  # the child died (killed at its CPU limit, say)
        raise UploadRejected(TOO_COMPLEX) from exc
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if kind == "ok":
        return value
    raise UploadRejected(value if kind == "rejected" else TOO_COMPLEX)
