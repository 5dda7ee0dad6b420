"""The conditions staff are alerted to, each read from the database.

A check finds what is wrong now (`find`: key to detail) and says when an open incident
has ended (`ended`: why, or None). State checks (the key refused, Momentum unreachable,
the line stalled) end when their condition no longer holds and may open again later.
A quote holding the slot past MOMENTUM_ABANDON_AFTER is a state check keyed by
the quote. Event checks (an abandoned slot, a job with every row failed)
open once per event (their key) and end when the line shows it recovered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.timesince import timesince

from bulk.models import BatchJob
from momentum import accounts
from ops import selectors
from ops.models import Incident
from quotes.models import Quote
from quotes.selectors import account_health, momentum_health

# Events older than this when the checks first run (a new deployment) are not alerted.
EVENT_LOOKBACK = timedelta(days=1)


def _at(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


class Check:
    kind: str
    # May a key open again after its incident closed?
    reopens = True
    what_to_do = ""

    def find(self, now: datetime) -> dict[str, str]:
        raise NotImplementedError

    def ended(self, incident: Incident, now: datetime, found: dict[str, str]) -> str | None:
        return None if incident.key in found else self.end_text(now)

    def end_text(self, now: datetime) -> str:
        return "The condition cleared."


class MomentumKeyRefused(Check):
    kind = Incident.Kind.MOMENTUM_KEY_REFUSED
    what_to_do = (
        "The account is quarantined: nothing is submitted or polled with its key; rows and "
        "quotes wait (other accounts, if any, carry the work), none fail. Check its key "
        "(MOMENTUM_API_KEY, or the variable MOMENTUM_ACCOUNTS names) and the account's "
        "permissions with Momentum, set the right key in the environment and restart the "
        "workers, then in admin open Momentum account health and run “The API key is "
        "fixed: clear the error and resume work”."
    )

    def find(self, now):
        """One incident per quarantined account (keyed by its name; "" with one account)."""
        several = accounts.several()
        return {
            (name if several else ""): (f"Account {name}: " if several else "")
            + f"Momentum said: {health.config_error}"
            for name, health in account_health().items()
            if health.config_error
        }

    def end_text(self, now):
        return "The error was cleared; work has resumed."


class MomentumUnreachable(Check):
    kind = Incident.Kind.MOMENTUM_UNREACHABLE
    what_to_do = (
        "Nothing is lost: the engine pauses and retries, and rows go back in line. Check "
        "Momentum's status page and our network path to MOMENTUM_BASE_URL (DNS, firewall, "
        "TLS). If Momentum is up for others, check the worker hosts' outbound access."
    )

    def find(self, now):
        health = momentum_health()
        since = health.failing_since
        threshold = timedelta(seconds=settings.ALERT_MOMENTUM_DOWN_AFTER)
        if since is None or not health.consecutive_failures or now - since < threshold:
            return {}
        return {
            "": f"Every call to Momentum since {_at(since)} ({timesince(since, now)}) has "
            f"failed: {health.consecutive_failures} failures in a row. Last error: "
            f"{health.last_error or 'unknown'}"
        }

    def end_text(self, now):
        return f"Momentum answered again at {_at(now)}."


class LineStalled(Check):
    kind = Incident.Kind.LINE_STALLED
    what_to_do = (
        "Check that a worker serves the `momentum` queue (`celery -A config inspect "
        "active_queues`, or the Procfile's `worker` line) and that beat runs (exactly one). "
        "Then look at the queue page for who holds the slot and at Momentum health. "
        "Work resumes by itself once a momentum worker runs."
    )

    def find(self, now):
        if momentum_health().config_error:
            return {}  # its own incident says why nothing moves
        window = selectors.line_stall_window()
        since = selectors.oldest_waiting_since()
        if since is None or now - since < window or selectors.quotes_moved_since(now - window):
            return {}
        rows = selectors.waiting_rows()
        detail = (
            f"Work has waited since {_at(since)} and no quote was accepted or ended by "
            f"Momentum for {timesince(now - window, now)} (twice the quote timeout). "
            f"Waiting: {Quote.objects.waiting().count()} quotes, {rows.count()} rows of "
            f"{rows.values('batch_job').distinct().count()} jobs; "
            f"{Quote.objects.holding_slot().count()} quotes hold a slot."
        )
        health = momentum_health()
        if health.paused_until and health.paused_until > now:
            detail += f" Momentum is paused until {_at(health.paused_until)}."
        return {"": detail}

    def end_text(self, now):
        return "Quotes are moving again, or nothing waits any more."


class SlotHeldLong(Check):
    """A quote Momentum has not answered for MOMENTUM_ABANDON_AFTER still holds the slot:
    the engine keeps polling it (a second quote in flight breaks Momentum's limit), so
    nothing else is priced until Momentum answers or staff free the slot."""

    kind = Incident.Kind.SLOT_HELD_LONG
    what_to_do = (
        "Momentum has not answered this quote for longer than MOMENTUM_ABANDON_AFTER; the "
        "engine keeps polling it and no other quote is priced meanwhile. Ask Momentum "
        'about the quote id below. If they say it is gone, use "Free Momentum slot" on '
        "its job (admin, Batch jobs) or on the quote (admin, Quotes). The alert ends by "
        "itself when Momentum answers."
    )

    def find(self, now):
        since = now - timedelta(seconds=settings.MOMENTUM_ABANDON_AFTER)
        held = (
            Quote.objects.holding_slot()
            .annotate(held_from=Coalesce("submitted_at", "claimed_at"))
            .filter(held_from__lt=since)
        )
        return {
            str(quote_id): f"Quote {quote_id} (Momentum id {momentum_id or 'not yet given'}) "
            f"has held the slot since {_at(held_from)}: {timesince(held_from, now)}."
            for quote_id, momentum_id, held_from in held.values_list(
                "pk", "momentum_quote_id", "held_from"
            )
        }

    def end_text(self, now):
        return f"The quote no longer holds the slot ({_at(now)})."


class SlotAbandoned(Check):
    kind = Incident.Kind.SLOT_ABANDONED
    reopens = False
    what_to_do = (
        "Staff freed the slot of a quote Momentum still had pending (admin's \"Free Momentum "
        'slot"); Momentum may still refuse new quotes (429) while it keeps that one. '
        "Ask Momentum about the quote id below. Its rows failed; their owners can retry "
        "them."
    )

    def find(self, now):
        abandoned = Quote.objects.filter(abandoned_at__gte=now - EVENT_LOOKBACK)
        return {
            str(quote_id): f"Quote {quote_id} (Momentum id {momentum_id or 'none'}) was "
            f"abandoned at {_at(at)}."
            for quote_id, momentum_id, at in abandoned.values_list(
                "pk", "momentum_quote_id", "abandoned_at"
            )
        }

    def ended(self, incident, now, found):
        quote = Quote.objects.filter(pk=incident.key).only("abandoned_at").first()
        if quote is None or quote.abandoned_at is None:
            return "The quote is gone."
        if Quote.objects.filter(submitted_at__gt=quote.abandoned_at).exists():
            return "Momentum has accepted a new quote since: the line moves again."
        if not selectors.work_is_waiting():
            return "No work is waiting."
        return None


class JobAllFailed(Check):
    kind = Incident.Kind.JOB_ALL_FAILED
    reopens = False
    what_to_do = (
        "Every row of this job failed. Open the job in admin and read the rows' errors: "
        "if Momentum refused them all (a format change, a bad speed or term), fix the cause "
        "and use “retry failed rows”; if the addresses are the problem, tell the owner."
    )

    def find(self, now):
        failed = BatchJob.objects.filter(
            status=BatchJob.Status.FAILED, finished_at__gte=now - EVENT_LOOKBACK
        )
        return {
            str(pk): f"Job {pk} “{name}” of {email} ended with all {count} rows failed."
            for pk, name, email, count in failed.values_list(
                "pk", "file_name", "user__email", "failed_count"
            )
        }

    def ended(self, incident, now, found):
        job = BatchJob.objects.filter(pk=incident.key).only("status", "finished_at").first()
        if job is None:
            return "The job was deleted."
        if job.status != BatchJob.Status.FAILED:
            return f"The job was retried; it is now {job.get_status_display().lower()}."
        if Quote.objects.filter(
            status=Quote.Status.COMPLETE, completed_at__gt=job.finished_at
        ).exists():
            return "Momentum has priced quotes since: quoting works."
        return None


CHECKS: tuple[Check, ...] = (
    MomentumKeyRefused(),
    MomentumUnreachable(),
    LineStalled(),
    SlotHeldLong(),
    SlotAbandoned(),
    JobAllFailed(),
)
