from django.urls import path

from oasst.accounts import views

app_name = "accounts"

urlpatterns = [
    path("terms/", views.terms, name="terms"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/tokens/", views.create_token, name="create-token"),
    path("settings/tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke-token"),
    path("settings/delete/", views.delete_account, name="delete"),
]
