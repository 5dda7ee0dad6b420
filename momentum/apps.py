from django.apps import AppConfig


class MomentumConfig(AppConfig):
    name = "momentum"
