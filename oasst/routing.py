"""Websocket routes of every app."""

from django.urls import path

from oasst.accounts.consumers import NotificationConsumer
from oasst.chat.routing import websocket_urlpatterns as chat_websockets

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    *chat_websockets,
]
