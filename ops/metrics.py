"""/metrics: Prometheus figures read from the database at scrape time.

Workers run on many hosts and the web answers the scrape, so nothing is counted in
process memory: every figure comes from the database (quotes, rows, Momentum's error
counts, and the slot clock the ops check advances).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from bulk.models import BatchJob, BatchQuote
from ops import selectors
from ops.accounts import account_totals
from ops.models import Incident, SlotClock
from quotes.models import MomentumErrorCount, Quote

# Pricing takes 2-3 minutes upstream; the small buckets serve the sandbox and tests.
PRICING_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 90, 120, 150, 180, 240, 300, 600)


class DatabaseCollector(Collector):
    def collect(self):
        yield from self._waiting()
        yield from self._finished()
        yield from self._pricing()
        yield from self._errors()
        yield from self._slot()
        yield from self._accounts()
        yield from self._incidents()

    def _waiting(self):
        rows = GaugeMetricFamily(
            "bulkquotes_rows_waiting", "Bulk rows waiting to be quoted.", labels=["paused"]
        )
        pending = BatchQuote.objects.pending().filter(batch_job__status__in=BatchJob.OPEN_STATUSES)
        paused = pending.filter(batch_job__paused_at__isnull=False).count()
        rows.add_metric(["false"], selectors.waiting_rows().count())
        rows.add_metric(["true"], paused)
        yield rows
        quotes = GaugeMetricFamily(
            "bulkquotes_quotes_waiting", "Quotes waiting for the slot.", labels=["source"]
        )
        by_source = dict(
            Quote.objects.waiting().values_list("source").annotate(n=Count("pk")).order_by()
        )
        for source in Quote.Source.values:
            quotes.add_metric([source], by_source.get(source, 0))
        yield quotes

    def _finished(self):
        rows = CounterMetricFamily(
            "bulkquotes_rows_finished",
            "Bulk rows that reached an outcome (a retry puts failed rows back).",
            labels=["outcome"],
        )
        counts = dict(
            BatchQuote.objects.terminal().values_list("status").annotate(n=Count("pk")).order_by()
        )
        for outcome in BatchQuote.TERMINAL_STATUSES:
            rows.add_metric([outcome], counts.get(outcome, 0))
        yield rows
        created = CounterMetricFamily(
            "bulkquotes_quotes_created",
            "Quotes Momentum accepted (it gave them an id).",
            labels=["source"],
        )
        made = dict(
            Quote.objects.exclude(momentum_quote_id="")
            .values_list("source")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for source in Quote.Source.values:
            created.add_metric([source], made.get(source, 0))
        yield created

    def _pricing(self):
        took = ExpressionWrapper(
            F("completed_at") - F("submitted_at"), output_field=DurationField()
        )
        priced = Quote.objects.filter(
            status=Quote.Status.COMPLETE, submitted_at__isnull=False, completed_at__isnull=False
        ).annotate(took=took)
        aggregates = {
            f"le_{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=bound)))
            for i, bound in enumerate(PRICING_BUCKETS)
        }
        figures = priced.aggregate(total=Count("pk"), seconds=Sum("took"), **aggregates)
        buckets = [
            (f"{bound:g}", figures[f"le_{i}"] or 0) for i, bound in enumerate(PRICING_BUCKETS)
        ]
        buckets.append(("+Inf", figures["total"] or 0))
        total_seconds = figures["seconds"].total_seconds() if figures["seconds"] else 0.0
        yield HistogramMetricFamily(
            "bulkquotes_pricing_seconds",
            "Time from Momentum accepting a quote to its price.",
            buckets=buckets,
            sum_value=total_seconds,
        )

    def _errors(self):
        errors = CounterMetricFamily(
            "bulkquotes_momentum_errors", "Errors Momentum gave us, by kind.", labels=["kind"]
        )
        for kind, count in MomentumErrorCount.objects.values_list("kind", "count"):
            errors.add_metric([kind], count)
        yield errors

    def _slot(self):
        clock = SlotClock.objects.filter(pk=1).first() or SlotClock()
        yield CounterMetricFamily(
            "bulkquotes_slot_busy_seconds",
            "Slot-seconds spent on quotes (claim to end).",
            value=clock.busy_seconds,
        )
        yield CounterMetricFamily(
            "bulkquotes_slot_idle_while_work_waited_seconds",
            "Slot-seconds no quote used while work waited.",
            value=clock.idle_waiting_seconds,
        )
        yield GaugeMetricFamily(
            "bulkquotes_slots_held",
            "Quotes holding a slot now.",
            value=Quote.objects.holding_slot().count(),
        )

    def _accounts(self):
        """Per Momentum account (by name, never its key): quotes, failures, seat-seconds."""
        families = {
            "quotes": CounterMetricFamily(
                "bulkquotes_account_quotes", "Quotes each account took.", labels=["account"]
            ),
            "failures": CounterMetricFamily(
                "bulkquotes_account_failures",
                "Quotes of each account that failed.",
                labels=["account"],
            ),
            "busy_seconds": CounterMetricFamily(
                "bulkquotes_account_busy_seconds",
                "Seat-seconds each account spent on quotes (claim to end).",
                labels=["account"],
            ),
        }
        for name, totals in account_totals().items():
            for field, family in families.items():
                family.add_metric([name], getattr(totals, field))
        yield from families.values()

    def _incidents(self):
        gauge = GaugeMetricFamily(
            "bulkquotes_incidents_open", "Open incidents, by kind.", labels=["kind"]
        )
        counts = dict(
            Incident.objects.filter(closed_at=None)
            .values_list("kind")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for kind in Incident.Kind.values:
            gauge.add_metric([kind], counts.get(kind, 0))
        yield gauge


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector())
    return reg
