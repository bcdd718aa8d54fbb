"""Searching message text: PostgreSQL full-text search, a plain substring match elsewhere."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from oasst.trees.models import Message


def search_messages(messages: QuerySet[Message], query: str) -> QuerySet[Message]:
    """Messages matching every word of ``query`` (PostgreSQL: web-search syntax, "simple" config)."""
    query = query.strip()
    if not query:
        return messages
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        return messages.annotate(search=SearchVector("text", config="simple")).filter(
            search=SearchQuery(query, config="simple", search_type="websearch")
        )
    condition = Q()
    for word in query.split()[:10]:
        condition &= Q(text__icontains=word.strip('"'))
    return messages.filter(condition)
