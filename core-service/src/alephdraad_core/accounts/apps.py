from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "alephdraad_core.accounts"
    label = "accounts"
    verbose_name = "Accounts: users, email verification, passwords, profiles"
