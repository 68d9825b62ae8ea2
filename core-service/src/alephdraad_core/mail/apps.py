from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "alephdraad_core.mail"
    label = "mail"
    verbose_name = "Mail: the outbox queue and its delivery worker"
