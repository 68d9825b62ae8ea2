from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "alephdraad_core.content"
    label = "content"
    verbose_name = "Content: categories and threads"
