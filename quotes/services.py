"""The quote lifecycle: claim a Momentum slot, submit, poll, record, release."""


def dispatch_next() -> None:
    """Start the next waiting quote if a slot is free (the engine fills this in)."""


def request_dispatch() -> None:
    """Ask the engine, after the current transaction commits, to start the next quote."""
    from quotes.tasks import dispatch

    dispatch.delay_on_commit()
