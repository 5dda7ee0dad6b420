"""How good the line's estimates are: error at submit and at each quarter of a job.

    python benchmarks/estimates.py --rows 20 --delay 1.6:2.4 --poll-interval 0.2 \
        --database-url postgres://... --redis-url redis://...

Runs a warm-up job (so the line has measured its pace, as a running system has), then a
job of `--rows` distinct addresses through the real engine (one `momentum` worker -c 1,
one for `control` and `default`) against the sandbox pricing each quote in a time drawn
from `--delay MIN:MAX`, polling every `--poll-interval` seconds. It reads the preview's
estimate (`bulk.selectors.upload_estimate`) just before submitting, and the job page's
expected finish (`bulk.selectors.job_progress`) as 25 %, 50 % and 75 % of the rows are
done, and prints each one's error against when the job really finished, and whether the
finish fell inside the stated range.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pipeline import bench_env, start_worker, stop, wait_for  # the same worker handling

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def delay_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    return float(low), float(high or low)


def follow(job, *, rows: int, limit: float) -> dict[str, tuple]:
    """The job page's (finish, low, high, at) as each quarter of the rows is done."""
    from bulk.models import BatchJob
    from bulk.selectors import job_progress

    seen: dict[str, tuple] = {}
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = BatchJob.objects.get(pk=job.pk)
        if job.finished_at:
            return seen
        done = job.processed_count / rows
        for quarter in (0.25, 0.5, 0.75):
            label = f"{int(quarter * 100)} %"
            if done >= quarter and label not in seen:
                progress = job_progress(job=job)
                if progress.finish is not None:
                    eta = progress.finish
                    seen[label] = (eta.finish_at, eta.low_at, eta.high_at, progress.eta)
        time.sleep(0.05)
    raise SystemExit("the job did not finish in time")


def report(label: str, figure: tuple, finished) -> None:
    predicted, low, high, time_left = figure
    actual = (finished - (predicted - time_left)).total_seconds()
    error = (time_left.total_seconds() - actual) / actual * 100 if actual else 0.0
    inside = "yes" if low <= finished <= high else "NO"
    print(
        f"{label:>8}: said {time_left.total_seconds():7.1f} s, took {actual:7.1f} s, "
        f"error {error:+6.1f} %, range {(low - predicted).total_seconds():+6.1f}/"
        f"{(high - predicted).total_seconds():+6.1f} s, inside: {inside}"
    )


def run(options, env: dict[str, str], work: Path) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from bulk.models import BatchJob
    from bulk.selectors import upload_estimate
    from momentum.sandbox import SandboxConfig, SandboxServer
    from tests.harness import create_job

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    low, high = options.delay
    sandbox = SandboxServer(SandboxConfig(delay_min=low, delay_max=high, seed=7)).start()
    env["MOMENTUM_BASE_URL"] = sandbox.url
    user, _ = User.objects.get_or_create(email="bench@example.com")
    workers = [
        start_worker(["-A", "config", "worker", "-Q", "momentum", "-c", "1", "-n", "m@bench"],
                     env, work / "momentum.log"),
        start_worker(["-A", "config", "worker", "-Q", "control,default", "-c", "1",
                      "-n", "d@bench"], env, work / "default.log"),
    ]  # fmt: skip
    time.sleep(4)  # let both workers connect
    limit = (options.rows + options.warmup) * (high + 2) * 3 + 60
    try:
        warmup = create_job(user=user, rows=options.warmup, file_name="warmup.csv")
        wait_for(
            lambda: BatchJob.objects.filter(pk=warmup.pk, finished_at__isnull=False).exists(),
            timeout=limit,
        )
        estimate = upload_estimate(rows=options.rows)
        job = create_job(user=user, rows=options.rows, file_name="bench.csv")
        quarters = follow(job, rows=options.rows, limit=limit)
        job.refresh_from_db()
    finally:
        for worker in workers:
            stop(worker)
        sandbox.stop()
    print(f"pace at submit: {estimate.pace.total_seconds():.2f} s a quote")
    submit = (estimate.finish_at, estimate.low_at, estimate.high_at, estimate.duration)
    report("submit", submit, job.finished_at)
    for label, figure in quarters.items():
        report(label, figure, job.finished_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=12)
    parser.add_argument("--delay", type=delay_range, default=(1.6, 2.4), help="MIN:MAX s")
    parser.add_argument("--poll-interval", type=float, default=0.2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    options = parser.parse_args()
    low, high = options.delay
    work = Path(tempfile.mkdtemp(prefix="estimates-bench-"))
    env = bench_env(
        work,
        options,
        MOMENTUM_POLL_INTERVAL=str(options.poll_interval),
        MOMENTUM_QUOTE_TIMEOUT=str(high * 3 + 5),
        MOMENTUM_TYPICAL_LATENCY=str((low + high) / 2),
    )
    broker = "redis" if options.redis_url else "filesystem"
    database = env["DATABASE_URL"].split(":")[0]
    print(
        f"rows={options.rows} warmup={options.warmup} delay={low:g}:{high:g} s "
        f"poll_interval={options.poll_interval:g} s broker={broker} database={database} "
        f"cores={os.cpu_count()}"
    )
    run(options, env, work)


if __name__ == "__main__":
    main()
