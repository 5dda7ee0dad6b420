"""`make run`: every process of the Procfile under honcho, stopped cleanly on Ctrl-C.

honcho sends SIGTERM to each process, then SIGKILL after a fixed 5 s. A Celery worker's
warm shutdown on the embedded filesystem broker takes longer than that (its loop looks at
the broker every 2 s, then it stops its pool), so we give it 9 s: Ctrl-C ends every
process within 10 s, each on its own (config/shutdown.py), with no SIGKILL.
"""

from __future__ import annotations

import sys

from honcho import command, manager

STOP_WAIT_SECONDS = 9


def main(argv: list[str] | None = None) -> None:
    manager.KILL_WAIT = STOP_WAIT_SECONDS
    command.main(["start", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
