from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "oasst.health"
    label = "health"
    verbose_name = "Health"
