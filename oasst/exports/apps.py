from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "oasst.exports"
    label = "exports"
    verbose_name = "Dataset exports and imports"
