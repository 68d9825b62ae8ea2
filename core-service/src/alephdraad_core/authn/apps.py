from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "alephdraad_core.authn"
    label = "authn"
    verbose_name = "Authentication: login, sessions, refresh tokens, access tokens"
