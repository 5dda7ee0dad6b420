"""Writes for quotes, by concern: `intake` (quotes asked for, queued and withdrawn),
`sharing` (reusing and sharing answers), `lifecycle` (claim, submit, finish, release),
`poll` (polling a quote to its end), `polling` (where polls go), `leases` (a worker's
hold on a quote), `health` (whether to talk to Momentum now) and `throttling`
(visitors' quote rate). Every write to a `Quote` is here."""
