from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from oasst import views
from oasst.api import api
from oasst.health.views import healthz
from oasst.inference.api import openai_api

admin.site.site_header = f"{settings.OASST_SITE_NAME} administration"
admin.site.site_title = settings.OASST_SITE_NAME

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("me/", include("oasst.accounts.urls")),
    path("exports/", include("oasst.exports.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("chat/", include("oasst.chat.urls")),
    # OpenAI-compatible endpoints, where OpenAI clients expect them.
    path("v1/", openai_api.urls),
    path("", include("oasst.web.urls")),
]
