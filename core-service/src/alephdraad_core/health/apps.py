from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "alephdraad_core.health"
    label = "health"
    verbose_name = "Health probes"
