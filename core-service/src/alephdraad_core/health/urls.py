from django.urls import path

from alephdraad_core.health.api import LivenessView, ReadinessView

urlpatterns = [
    path("healthz", LivenessView.as_view(), name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
]
