from django.apps import AppConfig


class AdminsConfig(AppConfig):
    name = "alephdraad_core.admins"
    label = "admins"
    verbose_name = "Admins: operator accounts and the admin API"
