import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import default_organization_id
from momentum.accounts import DEFAULT

# What a person may ask for (the quote form, the upload form and `submit_batch` offer these).
SPEEDS_MBPS = (100, 200, 500, 1000, 2000, 5000, 10000)
TERMS_MONTHS = (12, 24, 36, 60)
DEFAULT_SPEED_MBPS = 1000
DEFAULT_TERM_MONTHS = 36


class Lead(models.Model):
    """The contact a Momentum quote is requested for."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    contact_name = models.CharField(max_length=150)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    company = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.contact_name} <{self.email}>"


def _new_idempotency_key() -> str:
    return f"quote-{uuid.uuid4().hex}"


# Answers Momentum gave that hold for a while (see QuoteQuerySet.reusable).
REUSABLE = Q(taken_from__isnull=True) & (
    Q(status="complete")
    | Q(status="failed", outcome_kind__in=("rejected", "no_coverage"), timed_out_at__isnull=True)
)


class QuoteQuerySet(models.QuerySet):
    def for_organization(self, organization_id: int) -> "QuoteQuerySet":
        """Quotes of one organisation: the only quotes another of its quotes may reuse,
        wait on or show the reference of (docs/architecture.md, "Tenancy")."""
        return self.filter(organization_id=organization_id)

    def holding_slot(self) -> "QuoteQuerySet":
        return self.filter(status__in=Quote.SLOT_STATUSES)

    def waiting(self) -> "QuoteQuerySet":
        return self.filter(status=Quote.Status.PENDING)

    def reusable(self) -> "QuoteQuerySet":
        """Quotes Momentum itself answered whose answer holds for a while: a price, or a
        refusal about the address (no coverage). Never a timeout or an outage."""
        return self.filter(REUSABLE)

    def live(self) -> "QuoteQuerySet":
        """Quotes on their way to Momentum (waiting for the slot, or in flight) that other
        rows may wait on. An overdue quote has already failed for its rows."""
        return self.filter(
            taken_from__isnull=True,
            status__in=(Quote.Status.PENDING, Quote.Status.SUBMITTING, Quote.Status.IN_FLIGHT),
        )


class Quote(models.Model):
    """One price request at Momentum, from claim of the slot to its result."""

    class Status(models.TextChoices):
        # A bulk row's quote, made when its job was submitted, before the row's turn; or a
        # quote waiting on another one for the same address (`taken_from`).
        QUEUED = "queued", "Queued"
        PENDING = "pending", "Pending"
        SUBMITTING = "submitting", "Submitting"
        IN_FLIGHT = "in_flight", "In flight"
        # Past our deadline (the quote failed as timed out), but Momentum still has it
        # pending: it keeps the slot until Momentum ends it or we abandon it.
        OVERDUE = "overdue", "Timed out, still pending at Momentum"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        SINGLE = "single", "Single quote"
        BULK = "bulk", "Bulk row"

    class Taken(models.TextChoices):
        """How a quote got its answer without asking Momentum itself."""

        REUSED = "reused", "Reused"  # a recent identical quote's answer
        SHARED = "shared", "Shared"  # the answer of a quote in flight for the same address

    # A quote in one of these holds a Momentum slot (DESIGN.md, invariant 1): the slot
    # belongs to the upstream quote, so an overdue quote holds it too.
    SLOT_STATUSES = (Status.SUBMITTING, Status.IN_FLIGHT, Status.OVERDUE)
    TERMINAL_STATUSES = (Status.COMPLETE, Status.FAILED)

    # The id in URLs: unguessable, since visitors see quotes without signing in.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="quotes")
    # Whose price this is: set at creation from the lead's user (a visitor's single quote
    # belongs to the default organisation); reuse and sharing stay within it.
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.PROTECT,
        related_name="quotes",
        default=default_organization_id,
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SINGLE)
    street_address = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)
    zip_code = models.CharField(max_length=10)
    # The address's stable identity (quotes.addresses.normalise_address(...).key): quotes
    # of one address, however it was spelled, share it; reuse and sharing go by it.
    address_key = models.CharField(max_length=400, blank=True)
    speed_mbps = models.PositiveIntegerField(default=1000)
    term_months = models.PositiveSmallIntegerField(default=36)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # The seat (account, n) this quote holds while submitting or in flight
    # (momentum/accounts.py); the partial unique constraint below makes a second holder
    # a database error. Set when the quote is claimed (late binding); every later
    # request about it uses that account's key.
    momentum_account = models.CharField(max_length=40, default=DEFAULT)
    momentum_slot = models.PositiveSmallIntegerField(null=True, blank=True)
    # The worker run that owns the quote and until when; renewed at every poll.
    lease_token = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Sent with every submit of this quote, so a retried submit never makes a second one.
    idempotency_key = models.CharField(max_length=80, default=_new_idempotency_key)
    submit_attempts = models.PositiveIntegerField(default=0)
    # A submit whose answer never came (timeout, 5xx) may have created the quote upstream.
    submit_ambiguous = models.BooleanField(default=False)
    momentum_quote_id = models.CharField(max_length=80, blank=True)
    # Times a submit gave up without a definite answer (the quote went back in line,
    # keeping its key), and times Momentum answered 404 for the id it gave us (the quote
    # was submitted again under a new key). Both are bounded by MOMENTUM_MAX_ROUNDS.
    give_ups = models.PositiveSmallIntegerField(default=0)
    forgotten_count = models.PositiveSmallIntegerField(default=0)

    mrc = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    nrc = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    raw_payload = models.JSONField(null=True, blank=True)
    # How it ended (quotes.outcomes.Kind: priced, rejected, timed_out, unavailable): only priced
    # and rejected answers are reused.
    outcome_kind = models.CharField(max_length=12, blank=True)
    # The quote whose answer this one took instead of asking Momentum (reused or shared).
    taken_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="takers",
        db_index=False,  # the partial quote_takers below: most quotes take from none
    )
    taken_as = models.CharField(max_length=8, choices=Taken.choices, blank=True)
    # Some quote waits on this one (shares it): set with the first taker, so recording a
    # quote nobody shares (nearly every one) skips looking for takers. A taker missed in
    # a race is settled by the bulk sweeper.
    has_takers = models.BooleanField(default=False)
    # Momentum priced this quote between these many seconds after its accepted submit
    # (the last poll that saw it pending, the first that saw it done): the measurements
    # polls are placed by (quotes.services.polling).
    pricing_low_seconds = models.FloatField(null=True, blank=True)
    pricing_high_seconds = models.FloatField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # While submitting: when submit retries give up. Once in flight: the quote deadline,
    # MOMENTUM_QUOTE_TIMEOUT after the accepted submit.
    deadline_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the quote failed as timed out while Momentum still had it pending.
    timed_out_at = models.DateTimeField(null=True, blank=True)
    # When Momentum answered for a quote that had already timed out (its late price).
    late_result_at = models.DateTimeField(null=True, blank=True)
    # When staff freed the slot without Momentum ending the quote ("Free Momentum slot").
    abandoned_at = models.DateTimeField(null=True, blank=True)

    objects = QuoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["momentum_account", "momentum_slot"],
                condition=Q(status__in=["submitting", "in_flight", "overdue"]),
                name="quote_one_holder_per_seat",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["submitting", "in_flight", "overdue"])
                | Q(momentum_slot__isnull=False),
                name="quote_in_flight_holds_a_slot",
            ),
            # A constraint, not unique=True: that also builds a LIKE index nothing uses.
            models.UniqueConstraint(
                fields=["idempotency_key"], name="quote_unique_idempotency_key"
            ),
        ]
        # Every index is written for each quote a submission makes (up to 20,000 at once,
        # issue 24): only indexes a query reads are kept.
        indexes = [
            models.Index(fields=["status", "created_at"], name="quote_status_created"),
            # Reuse and sharing: the latest quote of one address, speed and term.
            models.Index(
                fields=["address_key", "speed_mbps", "term_months", "completed_at"],
                name="quote_reuse_lookup",
            ),
            # The line's pace (bulk.line.pace): the latest quotes to take the slot, read
            # past every quote still waiting for it (a job's whole backlog).
            models.Index(
                F("claimed_at").desc(),
                F("id").desc(),
                condition=Q(claimed_at__isnull=False),
                name="quote_latest_claims",
            ),
            # A quote's takers (sharing, the line's rows waiting on a quote): only quotes
            # that take from another are in it.
            models.Index(
                fields=["taken_from"], condition=Q(taken_from__isnull=False), name="quote_takers"
            ),
        ]

    def __str__(self) -> str:
        return f"Quote {self.pk} ({self.status}) {self.street_address}, {self.city}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    @property
    def has_timed_out(self) -> bool:
        """Failed as timed out for its user, whether or not Momentum has let go yet."""
        return self.timed_out_at is not None

    @property
    def reference(self) -> str:
        """How people name the quote: Momentum's id, else ours."""
        return self.momentum_quote_id or f"#{self.pk}"

    @property
    def provenance(self) -> str:
        """ "reused from quote MQ-1 of 2026-11-20", "shared with quote MQ-2", or ""."""
        source = self.taken_from
        if source is None or not self.taken_as:
            return ""
        if self.taken_as == self.Taken.SHARED:
            return f"shared with quote {source.reference}"
        when = source.completed_at.date().isoformat() if source.completed_at else "?"
        return f"reused from quote {source.reference} of {when}"

    @property
    def address(self) -> str:
        return f"{self.street_address}, {self.city}, {self.state} {self.zip_code}"


class MomentumHealth(models.Model):
    """One row per Momentum account: whether the engine should submit with it now, and
    why not (`quotes.services.health`)."""

    class StaffState(models.TextChoices):
        ACTIVE = "active", "Active"
        # No new submits; quotes in flight finish. Staff resume it.
        PAUSED = "paused", "Paused by staff"
        # No new submits, before it is removed: safe to remove once it holds no quote.
        DRAINING = "draining", "Draining"

    account = models.CharField(max_length=40, unique=True, default="default")
    staff_state = models.CharField(
        max_length=10, choices=StaffState.choices, default=StaffState.ACTIVE
    )
    paused_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the current run of failures began (cleared by the next answer): Momentum has
    # been unreachable since then.
    failing_since = models.DateTimeField(null=True, blank=True)
    # Set on 401/403: the account is quarantined until staff fix its key and clear this.
    config_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Momentum account health"
        verbose_name_plural = "Momentum account health"

    def __str__(self) -> str:
        return f"Momentum account {self.account}"


class MomentumErrorCount(models.Model):
    """How many errors of one kind Momentum gave us, ever (for /metrics)."""

    kind = models.CharField(max_length=40, unique=True)
    count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.kind}: {self.count}"
