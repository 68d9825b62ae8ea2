from django.apps import AppConfig


class PasskeysConfig(AppConfig):
    name = "alephdraad_core.passkeys"
    label = "passkeys"
    verbose_name = "Passkeys (WebAuthn): registration, passwordless login, sudo"
