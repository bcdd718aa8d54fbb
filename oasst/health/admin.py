from django.contrib import admin

from oasst.health.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "seen_at", "hostname")
    readonly_fields = ("name", "seen_at", "hostname")
