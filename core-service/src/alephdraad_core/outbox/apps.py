from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "alephdraad_core.outbox"
    label = "outbox"
    verbose_name = "Event outbox and handled events"
