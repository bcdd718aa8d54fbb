from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "oasst.web"
    label = "web"
    verbose_name = "Volunteer pages"
