from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "alephdraad_core.platform"
    # "platform" alone would read like the stdlib module in logs and migrations.
    label = "core_platform"
    verbose_name = "Platform"
