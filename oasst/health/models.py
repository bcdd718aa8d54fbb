from django.db import models


class Heartbeat(models.Model):
    """When a background process last proved it was alive (it runs a beat job)."""

    name = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
