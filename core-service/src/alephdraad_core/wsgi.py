"""WSGI entry point (gunicorn: alephdraad_core.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alephdraad_core.settings")

application = get_wsgi_application()
