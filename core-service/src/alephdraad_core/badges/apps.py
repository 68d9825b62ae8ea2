from django.apps import AppConfig


class BadgesConfig(AppConfig):
    name = "alephdraad_core.badges"
    label = "badges"
    verbose_name = "Badges and who holds them"
