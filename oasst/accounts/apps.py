from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "oasst.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from oasst.accounts.keys import forget_api_clients
        from oasst.accounts.models import ApiClient

        # Whoever saves or deletes a client (admin, command, shell), this
        # process stops using what it remembered of the clients at once.
        for name, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(forget_api_clients, sender=ApiClient, dispatch_uid=f"client-{name}")
