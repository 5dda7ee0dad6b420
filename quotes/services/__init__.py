"""Writes for quotes, by concern: `lifecycle` (a quote's state machine), `health`
(whether to talk to Momentum now) and `throttling` (visitors' quote rate)."""
