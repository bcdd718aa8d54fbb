from django.apps import AppConfig


class TreesConfig(AppConfig):
    name = "oasst.trees"
    label = "trees"
    verbose_name = "Conversation trees"
