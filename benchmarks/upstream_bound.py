"""How close a job comes to the upstream limit: Σ of Momentum's pricing times.

    python benchmarks/upstream_bound.py --rows 15 --delay 4:4 \
        --database-url postgres://... --redis-url redis://...

Momentum prices one quote at a time, so a job can never finish faster than the sum of
its quotes' pricing times. This runs a job of N distinct addresses through the real
engine (one `momentum` worker -c 1, one worker for `control` and `default`) against the
sandbox pricing each quote in a time drawn from `--delay MIN:MAX` (its one-quote and
one-request rules on), polling every `--poll-interval` seconds (default: a tenth of the
middle delay, as production's 15 s polls are to 2-3 minute quotes). A warm-up job of
`--warmup` rows (default 50, MOMENTUM_POLL_SAMPLE) runs first, so that the engine has a
full sample of recent pricing times to place its polls by, as a running production
system has (a fresh database has none).

Prints the measured job's wall time, from its first row opened to the job finished,
over the Σ of the pricing times the sandbox drew for its quotes, and polls per quote.

`--accounts N` (issue 22) runs N Momentum accounts (`MOMENTUM_ACCOUNTS`, the sandbox
serving N keys, each with its one-quote rule) and N momentum worker processes: the limit
is then Σ / N, and the ratio printed is the wall time over that; it prints each key's
highest in-flight count and foreign polls.
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


def run(options, env: dict[str, str], work: Path) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Min

    from accounts.models import User
    from bulk.models import BatchJob
    from momentum.sandbox import SandboxConfig, SandboxServer
    from tests.harness import create_job

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    low, high = options.delay
    keys = [f"bench-key-{n}" for n in range(options.accounts)]
    sandbox = SandboxServer(
        SandboxConfig(delay_min=low, delay_max=high, seed=11, api_keys=tuple(keys))
    ).start()
    env["MOMENTUM_BASE_URL"] = sandbox.url
    if options.accounts > 1:
        env.update({f"BENCH_KEY_{n}": key for n, key in enumerate(keys)})
        env["MOMENTUM_ACCOUNTS"] = ",".join(
            f"a{n}=env:BENCH_KEY_{n}" for n in range(options.accounts)
        )
    user, _ = User.objects.get_or_create(email="bench@example.com")
    workers = [
        start_worker(["-A", "config", "worker", "-Q", "momentum", "-c",
                      str(options.accounts), "-n", "m@bench"], env, work / "momentum.log"),
        start_worker(["-A", "config", "worker", "-Q", "control,default", "-c", "1",
                      "-n", "d@bench"], env, work / "default.log"),
    ]  # fmt: skip
    time.sleep(4)  # let both workers connect
    limit = (options.rows + options.warmup) * (high + 2) * 3 + 60

    def finish(job) -> BatchJob:
        wait_for(
            lambda: BatchJob.objects.filter(pk=job.pk, finished_at__isnull=False).exists(),
            timeout=limit,
        )
        job.refresh_from_db()
        return job

    try:
        if options.warmup:
            finish(create_job(user=user, rows=options.warmup, file_name="warmup.csv"))
        before = sandbox.stats()
        job = finish(create_job(user=user, rows=options.rows, file_name="bench.csv"))
        after = sandbox.stats()
    finally:
        for worker in workers:
            stop(worker)
        sandbox.stop()
    quotes = after["quotes_created"] - before["quotes_created"]
    if job.success_count != options.rows or quotes != options.rows:
        raise SystemExit(f"the run went wrong: {job.success_count} quoted, {quotes} quotes")
    first_opened = job.rows.aggregate(first=Min("started_at"))["first"]
    wall = (job.finished_at - first_opened).total_seconds()
    priced = after["pricing_seconds_total"] - before["pricing_seconds_total"]
    bound = priced / options.accounts
    polls = after["polls"] - before["polls"]
    print(f"wall (first row opened -> job finished): {wall:8.2f} s")
    print(f"sum of pricing times / accounts:         {bound:8.2f} s")
    print(f"wall / bound: {wall / bound:.3f}   polls per quote: {polls / quotes:.2f}")
    print(f"max_in_flight_seen={after['max_in_flight_seen']}")
    for key, figures in sorted(after.get("keys", {}).items()):
        print(
            f"  {key}: max_in_flight_seen={figures['max_in_flight_seen']} "
            f"quotes_created={figures['quotes_created']} foreign_polls={figures['foreign_polls']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument("--accounts", type=int, default=1, help="Momentum accounts (keys)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--delay", type=delay_range, default=(4.0, 4.0), help="MIN:MAX s")
    parser.add_argument("--poll-interval", type=float, default=None)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    options = parser.parse_args()
    low, high = options.delay
    interval = options.poll_interval or (low + high) / 2 / 10

    work = Path(tempfile.mkdtemp(prefix="upstream-bench-"))
    env = bench_env(
        work,
        options,
        MOMENTUM_POLL_INTERVAL=str(interval),
        MOMENTUM_QUOTE_TIMEOUT=str(high * 3 + 5),
    )
    broker = "redis" if options.redis_url else "filesystem"
    database = env["DATABASE_URL"].split(":")[0]
    print(
        f"rows={options.rows} accounts={options.accounts} warmup={options.warmup} "
        f"delay={low:g}:{high:g} s "
        f"poll_interval={interval:g} s broker={broker} database={database} "
        f"cores={os.cpu_count()}"
    )
    run(options, env, work)


if __name__ == "__main__":
    main()
