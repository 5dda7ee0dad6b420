"""Rows per second through the real engine, beside a bare Celery chain of the same shape.

    python benchmarks/pipeline.py --rows 3000 [--database-url URL] [--redis-url URL]

The engine run: a job of N rows, the sandbox pricing instantly (delay 0, its one-quote and
one-request rules on), the poll interval near zero, one `momentum` worker (-c 1) and one
worker for the `control` and `default` queues, on the given database and broker
(defaults: a fresh SQLite file and the filesystem broker, or Redis when --redis-url or
REDIS_URL is given). The bare run: the same number of three-task chains on the same
broker, each no-op (benchmarks/bare_chain.py).
Prints both figures and their ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_worker(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", *args, "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-l", os.environ.get("BENCH_WORKER_LOG", "WARNING")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def bench_env(work: Path, options, **settings: str) -> dict[str, str]:
    """The environment of a benchmark's processes: production settings (no query log, no
    debug cursor) on the given database and broker, plus `settings`; the broker emptied."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(work / "var"),
        "DATABASE_URL": options.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
        "REDIS_URL": options.redis_url,
        "MOMENTUM_LEASE_SECONDS": "30",
        "SWEEP_INTERVAL": "30",
        "EMAIL_URL": "dummymail://",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
        **settings,
    }
    flush_broker(options)
    return env


def flush_broker(options) -> None:
    """Drop what an earlier run left in Redis (the filesystem broker starts empty)."""
    if options.redis_url:
        import redis

        redis.Redis.from_url(options.redis_url).flushdb()


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout} s")
        time.sleep(0.05)


def run_engine(rows: int, env: dict[str, str], work: Path) -> float:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from bulk.models import BatchJob
    from momentum.sandbox import SandboxConfig, SandboxServer
    from tests.harness import create_job

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)  # no jobs left from other runs
    from accounts.models import User

    sandbox = SandboxServer(SandboxConfig(delay_min=0, delay_max=0, seed=1)).start()
    env["MOMENTUM_BASE_URL"] = sandbox.url
    user, _ = User.objects.get_or_create(email="bench@example.com")
    workers = [
        start_worker(["-A", "config", "worker", "-Q", "momentum", "-c", "1", "-n", "m@bench"],
                     env, work / "momentum.log"),
        start_worker(["-A", "config", "worker", "-Q", "control,default", "-c", "1",
                      "-n", "d@bench"], env, work / "default.log"),
    ]  # fmt: skip
    time.sleep(4)  # let both workers connect before the clock starts
    try:
        started = time.monotonic()
        job = create_job(user=user, rows=rows, file_name="bench.csv")
        wait_for(
            lambda: BatchJob.objects.filter(pk=job.pk, finished_at__isnull=False).exists(),
            timeout=max(120, rows * 0.5),
        )
        elapsed = time.monotonic() - started
        job.refresh_from_db()
        stats = sandbox.stats()
        if job.success_count != rows or stats["quotes_created"] != rows:
            raise SystemExit(f"engine run went wrong: {job.success_count} quoted, {stats}")
        print(f"engine: max_in_flight_seen={stats['max_in_flight_seen']}, polls={stats['polls']}")
        return elapsed
    finally:
        for worker in workers:
            stop(worker)
        sandbox.stop()


def run_bare(rows: int, env: dict[str, str], work: Path) -> float:
    bare_dir = work / "bare-broker"
    bare_dir.mkdir()
    env = {**env, "BARE_BROKER_DIR": str(bare_dir)}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bare_chain

    marker = work / "bare-done"
    worker = start_worker(
        ["-A", "bare_chain", "worker", "-Q", "bare", "-c", "1", "-n", "b@bench"],
        {**env, "PYTHONPATH": str(ROOT / "benchmarks")},
        work / "bare.log",
    )
    time.sleep(4)
    try:
        started = time.monotonic()
        bare_chain.row_chain(0, rows, str(marker)).apply_async()
        wait_for(marker.exists, timeout=max(120, rows * 0.5))
        return time.monotonic() - started
    finally:
        stop(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    env = bench_env(work, options, MOMENTUM_POLL_INTERVAL="0.001", MOMENTUM_RETRY_BASE="0.01")
    broker = "redis" if options.redis_url else "filesystem"
    database = env["DATABASE_URL"].split(":")[0]
    print(f"rows={options.rows} broker={broker} database={database} cores={os.cpu_count()}")

    engine = run_engine(options.rows, dict(env), work)
    flush_broker(options)
    bare = run_bare(options.rows, dict(env), work)
    print(f"engine:     {engine:8.2f} s  {options.rows / engine:8.1f} rows/s")
    print(f"bare chain: {bare:8.2f} s  {options.rows / bare:8.1f} rows/s")
    print(f"ratio (engine time / bare chain time): {engine / bare:.2f}x")


if __name__ == "__main__":
    main()
