from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class OutboxConfig(AppConfig):
    name = "alephdraad_core.outbox"
    label = "outbox"
    verbose_name = "Event outbox and handled events"

    def ready(self) -> None:
        # Every app's `consumers` module registers its event consumers on import; importing
        # them here means every process (each web worker, the worker) has the same registry,
        # whatever else it happened to import.
        autodiscover_modules("consumers")
