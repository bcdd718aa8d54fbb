from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "oasst.chat"
    label = "chat"
    verbose_name = "Chat"
