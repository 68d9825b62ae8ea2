from django.apps import AppConfig


class SudoConfig(AppConfig):
    name = "alephdraad_core.sudo"
    label = "sudo"
    verbose_name = "Sudo mode: proof of presence before dangerous actions"
