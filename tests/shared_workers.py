"""One set of engine workers for the whole session, lent to each test that wants the
production shape on the environment the `engine` fixture gave it (see its docstring).

Between tests the set is frozen (SIGSTOP), so it takes no work while the database is
flushed and until the next test's `engine.start()`, exactly as workers not yet started; it
is frozen only when idle: no task held by any of its processes (tests/worker_probe.py) and
no message in the broker. A set that does not come to rest in time, has lost a process, or
was started on another environment is killed and started afresh.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from momentum.sandbox import SandboxConfig, SandboxServer
from tests.harness import Worker, production_shape, start_all

# Variables that differ from one test to the next without changing the workers.
PER_TEST = ("PYTEST_CURRENT_TEST",)
# For the run's summary (conftest.py): sets started, tests lent one, sets killed unrested.
COUNTS = {"started": 0, "lent": 0, "unrested": 0}
# How long a test's leftovers (an email being sent, a countdown) may take to finish.
IDLE_TIMEOUT = 5.0


class SharedWorkers:
    """The session's shared workers, their mail folder and the port of their sandbox."""

    def __init__(self, *, root: Path, broker: dict[str, str]) -> None:
        self.root = root
        self.broker = broker
        self.mail_dir = root / "mail"
        self.probe_dir = root / "probe"
        self.mail_dir.mkdir()
        self.sandbox_port = 0
        self.env: dict[str, str] | None = None
        self.workers: list[Worker] = []

    def start_sandbox(self, config: SandboxConfig) -> SandboxServer:
        """A new sandbox, on the port the shared workers know when it is free."""
        try:
            server = SandboxServer(config, port=self.sandbox_port)
        except OSError:  # taken meanwhile: the next shared test restarts the set
            server = SandboxServer(config)
        self.sandbox_port = server.port
        return server.start()

    def clear_mail(self) -> None:
        for path in self.mail_dir.iterdir():
            path.unlink()

    def run(self, *, env: dict[str, str]) -> list[Worker]:
        """The shared workers, running, for a test whose own workers would get `env`."""
        wanted = {
            **{name: value for name, value in env.items() if name not in PER_TEST},
            "VAR_DIR": str(self.root / "var"),
            "EMAIL_URL": f"filemail:///{self.mail_dir}",
            "ENGINE_PROBE_DIR": str(self.probe_dir),
        }
        if self.workers and (wanted != self.env or not all(w.alive for w in self.workers)):
            self.discard()
        COUNTS["lent"] += 1
        if self.workers:
            for worker in self.workers:
                worker.resume()
            return self.workers
        shutil.rmtree(self.probe_dir, ignore_errors=True)
        self.probe_dir.mkdir()
        self.workers = start_all(production_shape(env=wanted, log_dir=self.root))
        self.env = wanted
        COUNTS["started"] += 1
        return self.workers

    def pause(self) -> None:
        """Freeze the workers once idle; kill them if they are not idle in time."""
        deadline = time.monotonic() + IDLE_TIMEOUT
        while True:
            for worker in self.workers:
                worker.suspend()
            if all(w.alive for w in self.workers) and self.idle():
                unblock_redis_readers(self.broker)
                if self.idle():
                    return
            for worker in self.workers:
                worker.resume()
            if time.monotonic() > deadline or not all(w.alive for w in self.workers):
                COUNTS["unrested"] += 1
                self.discard()
                return
            time.sleep(0.05)

    def idle(self) -> bool:
        """No task held by a worker, no message waiting in the broker."""
        return not any(self.probe_dir.iterdir()) and broker_is_empty(self.broker)

    def discard(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers = []
        self.env = None


def broker_is_empty(broker: dict[str, str]) -> bool:
    """No message in a queue, none delivered and not yet acknowledged."""
    if "REDIS_URL" not in broker:
        return not any((Path(broker["BROKER_DIR"]) / "queue").iterdir())
    import redis

    client = redis.Redis.from_url(broker["REDIS_URL"])
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"list" and client.llen(key):
            return False
        if key == b"unacked" and client.hlen(key):
            return False
    return True


def unblock_redis_readers(broker: dict[str, str]) -> None:
    """End the BRPOPs a frozen worker left waiting on the broker's database, so that Redis
    hands a message sent later to a worker that runs rather than to a frozen one."""
    if "REDIS_URL" not in broker:
        return
    import redis

    client = redis.Redis.from_url(broker["REDIS_URL"])
    db = client.connection_pool.connection_kwargs.get("db", 0)
    for entry in client.client_list():
        if int(entry.get("db", -1)) == db and "b" in entry.get("flags", ""):
            client.client_unblock(int(entry["id"]))
