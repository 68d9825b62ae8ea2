"""URL map of core-service. The gateway forwards these paths unchanged (DESIGN.md section 6)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from alephdraad_core.authn.urls import well_known_urlpatterns
from alephdraad_core.badges.urls import admin_urlpatterns as badges_admin_urlpatterns
from alephdraad_core.content.urls import admin_urlpatterns as content_admin_urlpatterns

urlpatterns = [
    path("", include("alephdraad_core.health.urls")),
    path("docs/core/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-document"),
    # The split view serves its init script from a URL instead of inline, so the viewer keeps
    # working under a Content-Security-Policy without 'unsafe-inline'.
    re_path(
        r"^docs/core/?$",
        SpectacularSwaggerSplitView.as_view(url_name="openapi-document"),
        name="openapi-viewer",
    ),
    # Public API: each domain mounts its routes under api/v1/.
    path("", include(well_known_urlpatterns)),
    path("api/v1/", include("alephdraad_core.accounts.urls")),
    path("api/v1/", include("alephdraad_core.authn.urls")),
    path("api/v1/", include("alephdraad_core.mfa.urls")),
    path("api/v1/", include("alephdraad_core.sudo.urls")),
    path("api/v1/", include("alephdraad_core.passkeys.urls")),
    path("api/v1/", include("alephdraad_core.content.urls")),
    path("api/v1/admin/", include("alephdraad_core.admins.urls")),
    path("api/v1/admin/", include(content_admin_urlpatterns)),
    path("api/v1/", include("alephdraad_core.badges.urls")),
    path("api/v1/", include("alephdraad_core.profiles.urls")),
    # After the admins app's routes, which own the rest of api/v1/admin/users/….
    path("api/v1/admin/", include(badges_admin_urlpatterns)),
    #
    # internal/v1/ is the service-to-service listener for signed calls (DESIGN.md section 5).
    # The gateway answers 404 to any /internal/ path, so nothing public may live below it.
    path("internal/v1/", include("alephdraad_core.internal.urls")),
]

handler400 = "alephdraad_core.platform.problems.bad_request"
handler403 = "alephdraad_core.platform.problems.permission_denied"
handler404 = "alephdraad_core.platform.problems.page_not_found"
handler500 = "alephdraad_core.platform.problems.server_error"
