"""Real parts for engine tests: Celery worker subprocesses, a broker, the sandbox.

Workers run as separate processes (`celery -A config worker`) against the test database
and the session's broker (Redis when REDIS_URL is set, as in CI; else the filesystem
transport in a temporary folder), so ordering, redelivery and crashes are real.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import connection

from momentum.sandbox import SandboxConfig

if TYPE_CHECKING:
    import pytest

    from tests.shared_workers import SharedWorkers

ROOT = Path(__file__).resolve().parents[1]

# Fast but realistic timings: the sandbox prices in ~0.1 s, we poll every 0.05 s.
ENGINE_ENV = {
    "MOMENTUM_POLL_INTERVAL": "0.05",
    "MOMENTUM_QUOTE_TIMEOUT": "20",
    "MOMENTUM_SUBMIT_TIMEOUT": "10",
    "MOMENTUM_ABANDON_AFTER": "60",
    # One HTTP call (0.5 + 1.0 s) and a margin fit in a lease (settings refuse less).
    "MOMENTUM_LEASE_SECONDS": "2.0",
    "MOMENTUM_LEASE_MARGIN": "0.5",
    "MOMENTUM_RETRY_BASE": "0.05",
    "MOMENTUM_READ_TIMEOUT": "1.0",
    "MOMENTUM_CONNECT_TIMEOUT": "0.5",
    "MOMENTUM_DOWN_AFTER": "50",
    "MOMENTUM_DOWN_PAUSE": "0.2",
    "SWEEP_INTERVAL": "0.5",
    "BULK_EMAIL_RESEND_AFTER": "5",
    "EMAIL_TIMEOUT": "2",
}


def sandbox_config(request: pytest.FixtureRequest, **defaults: Any) -> SandboxConfig:
    """A sandbox fixture's settings: its defaults, changed by the test's
    `@pytest.mark.sandbox(...)` (SandboxConfig fields, as the config endpoint takes them:
    for example `api_keys=("east-key", "west-key", "north-key")` for three accounts)."""
    marker = request.node.get_closest_marker("sandbox")
    return SandboxConfig(**defaults).changed(**(marker.kwargs if marker else {}))


def database_url() -> str:
    """The URL of the test database this process uses, for worker subprocesses."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] or "postgres"
    if conf.get("PASSWORD"):
        auth += f":{conf['PASSWORD']}"
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


def wait_until(
    predicate: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = ""
) -> object:
    """Poll until predicate() is truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


class Worker:
    """A `celery worker` subprocess in its own process group (so SIGKILL takes it all)."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        log_dir: Path,
        queues: str,
        concurrency: int = 1,
        beat: bool = False,
    ) -> None:
        self.name = f"{queues.replace(',', '-')}-{uuid.uuid4().hex[:6]}"
        self.log_path = log_dir / f"worker-{self.name}.log"
        self.env = env
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            f"{self.name}@127.0.0.1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        if beat:
            self.args += ["-B", "-s", str(log_dir / f"beat-{self.name}")]
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 30) -> Worker:
        return start_all([self], timeout=timeout)[0]

    def launch(self) -> None:
        """Start the process; `wait_ready` waits for it to take work."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, *, timeout: float) -> None:
        wait_until(
            lambda: self.process.poll() is not None or b" ready." in self.log_path.read_bytes(),
            timeout=timeout,
            what=f"worker {self.name} to start",
        )
        if self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited:\n{self.log_tail()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def suspend(self) -> None:
        """SIGSTOP the whole worker (beat and pool children too): it takes no work until
        `resume`."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):  # it died just now
                os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, no clean-up."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_all(workers: list[Worker], *, timeout: float = 30) -> list[Worker]:
    """Start the workers side by side and wait until each takes work (killed if one fails)."""
    for worker in workers:
        worker.launch()
    try:
        for worker in workers:
            worker.wait_ready(timeout=timeout)
    except BaseException:
        for worker in workers:
            worker.kill()
        raise
    return workers


def production_shape(
    *, env: dict[str, str], log_dir: Path, momentum_workers: int = 1, default_concurrency: int = 2
) -> list[Worker]:
    """The workers of the production shape (not started): `momentum` workers (-c 1), a
    `control` worker with beat (dispatch and sweepers), and a worker for the `default` queue."""
    return [
        *(Worker(env=env, log_dir=log_dir, queues="momentum") for _ in range(momentum_workers)),
        Worker(env=env, log_dir=log_dir, queues="control", beat=True),
        Worker(env=env, log_dir=log_dir, queues="default", concurrency=default_concurrency),
    ]


class Engine:
    """Starts and stops the worker processes of one test; all share one environment.

    With `shared` (tests/shared_workers.py), `start()` in the production shape on the
    environment the test was given takes the session's shared workers instead of starting
    its own; `stop()` then hands them back idle.
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        log_dir: Path,
        mail_dir: Path,
        shared: SharedWorkers | None = None,
    ) -> None:
        self.env = env
        self.log_dir = log_dir
        self.mail_dir = mail_dir
        self.workers: list[Worker] = []
        self.shared = shared
        self.shared_workers: list[Worker] = []
        self._given_env = dict(env)

    def worker(self, queues: str = "momentum", **kwargs) -> Worker:
        worker = Worker(env=self.env, log_dir=self.log_dir, queues=queues, **kwargs).start()
        self.workers.append(worker)
        return worker

    def start(self, *, momentum_workers: int = 1, default_concurrency: int = 2) -> Engine:
        """The production shape: `momentum` workers (-c 1), a `control` worker with beat
        (dispatch and sweepers), and a worker for the `default` queue."""
        shape = {"momentum_workers": momentum_workers, "default_concurrency": default_concurrency}
        if self._may_share(shape):
            self.shared_workers = self.shared.run(env=self.env)
            self.mail_dir = self.shared.mail_dir
            return self
        self.workers += start_all(production_shape(env=self.env, log_dir=self.log_dir, **shape))
        return self

    def _may_share(self, shape: dict[str, int]) -> bool:
        return (
            self.shared is not None
            and not self.workers
            and not self.shared_workers
            and shape == {"momentum_workers": 1, "default_concurrency": 2}
            and self.env == self._given_env
        )

    def stop(self) -> None:
        # The test is over: no need for a warm shutdown.
        for worker in self.workers:
            worker.kill()
        if self.shared_workers:
            self.shared_workers = []
            self.shared.pause()

    def logs(self) -> str:
        workers = [*self.shared_workers, *self.workers]
        return "\n\n".join(f"--- {w.name}\n{w.log_tail()}" for w in workers)

    def sent_emails(self) -> list[dict[str, str]]:
        """Emails the workers sent (the file backend writes each to a file), decoded:
        subject, to, and the text and HTML bodies."""
        import email
        from email.header import decode_header, make_header

        sent = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_bytes().split(b"-" * 79):
                if b"Subject:" not in chunk:
                    continue
                message = email.message_from_bytes(chunk.strip())
                bodies = {
                    part.get_content_type(): part.get_payload(decode=True).decode(
                        part.get_content_charset() or "utf-8"
                    )
                    for part in message.walk()
                    if not part.is_multipart()
                }
                sent.append(
                    {
                        "subject": str(make_header(decode_header(message["Subject"]))),
                        "to": message["To"],
                        "text": bodies.get("text/plain", ""),
                        "html": bodies.get("text/html", ""),
                    }
                )
        return sent


def create_job(
    *,
    user,
    rows: int,
    file_name: str = "sites.xlsx",
    zip_for=None,
    street_for=None,
    city: str = "Denver",
    state: str = "CO",
    **fields,
):
    """A submitted job of `rows` addresses, handed to the engine as an upload would be."""
    from django.db import transaction

    from bulk.models import BatchJob
    from bulk.services.job_rows import create_rows
    from config.celery import wake_engine

    with transaction.atomic():
        job = BatchJob.objects.create(
            user=user, file_name=file_name, total_count=rows, notify_email=True, **fields
        )
        create_rows(
            job=job,
            rows=[
                {
                    "row_number": n + 2,
                    "street_address": street_for(n)
                    if street_for
                    else f"{n + 1} Job{job.pk} Street",
                    "city": city,
                    "state": state,
                    "zip_code": zip_for(n) if zip_for else "80202",
                    # A row is quoted at its own speed and term: here, its job's.
                    "speed_mbps": job.speed_mbps,
                    "term_months": job.term_months,
                }
                for n in range(rows)
            ],
        )
        wake_engine()
    return job


def job_finished(job) -> bool:
    job.refresh_from_db()
    return job.finished_at is not None


def assert_counters_exact(job) -> None:
    """Invariant 2: the counters equal the rows in each status."""
    from bulk.models import BatchQuote

    job.refresh_from_db()
    by_status = {s: job.rows.filter(status=s).count() for s in BatchQuote.Status.values}
    assert job.success_count == by_status["complete"]
    assert job.failed_count == by_status["failed"]
    assert job.cancelled_count == by_status["cancelled"]
    assert job.processed_count == job.success_count + job.failed_count
    assert sum(by_status.values()) == job.total_count
