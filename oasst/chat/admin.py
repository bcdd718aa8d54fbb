from django.contrib import admin

from oasst.chat.models import Chat, ChatMessage, Report


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "model", "allow_data_use", "hidden", "updated_at"]
    list_filter = ["allow_data_use", "hidden"]
    raw_id_fields = ["user", "active_leaf"]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "chat", "role", "state", "model_name", "completion_tokens", "created_at"]
    list_filter = ["role", "state"]
    raw_id_fields = ["chat", "parent"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["message", "user", "reason", "created_at"]
    list_filter = ["reason"]
    raw_id_fields = ["message", "user"]
