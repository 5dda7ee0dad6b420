"""Python's memory manager around bulk work: the cycle collector paused while a block
makes tens of thousands of objects that hold no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for the block.

    Every list, dict and tuple a block makes counts towards the next collection, and the
    oldest generation's walks every object of the process: a 20,000-row upload read, its
    submission or the ZIP table built spent a third or more of their time there (issue
    24). Rows and cells hold no cycles, so the collector finds nothing in them; what the
    block leaves is collected after it. A nested block leaves the collector to the
    outermost.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
