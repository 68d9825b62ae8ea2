from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "alephdraad_core.security"
    label = "security"
    verbose_name = "Security: audit log and shared rate limits"
