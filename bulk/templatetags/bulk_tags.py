"""Template filters for the job pages: the time filters, which every page also has as
builtins (config/time_tags.py)."""

from config.time_tags import age, duration, register

__all__ = ["age", "duration", "register"]
