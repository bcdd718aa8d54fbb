from django.urls import path

from oasst.chat import views

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new_chat, name="new"),
    path("<int:chat_id>/", views.detail, name="detail"),
    path("<int:chat_id>/settings/", views.update_settings, name="settings"),
    path("<int:chat_id>/share/", views.share, name="share"),
    path("<int:chat_id>/hide/", views.hide, name="hide"),
    path("<int:chat_id>/delete/", views.delete, name="delete"),
    path("<int:chat_id>/donate/", views.donate, name="donate"),
    path(
        "<int:chat_id>/messages/<int:message_id>/<str:kind>/",
        views.feedback,
        name="feedback",
    ),
    path("shared/<str:token>/", views.shared, name="shared"),
]
