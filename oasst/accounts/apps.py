from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "oasst.accounts"
    label = "accounts"
    verbose_name = "Accounts"
