from django.apps import AppConfig


class InternalConfig(AppConfig):
    name = "alephdraad_core.internal"
    label = "internal"
    verbose_name = "Internal listener: signed calls from the other services"
