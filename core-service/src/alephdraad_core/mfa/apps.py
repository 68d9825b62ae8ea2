from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "alephdraad_core.mfa"
    label = "mfa"
    verbose_name = "Second factors: TOTP, backup codes, two-step login"
