from django.apps import AppConfig

from momentum.accounts import accounts


class MomentumConfig(AppConfig):
    name = "momentum"

    def ready(self) -> None:
        # A MOMENTUM_ACCOUNTS that cannot be read stops the process at start, not at the
        # first quote.
        accounts()
