"""Small pieces the volunteer pages share."""

from __future__ import annotations

from typing import Any

from django import template

from oasst.lib.languages import language_name

register = template.Library()


@register.inclusion_tag("web/_language_picker.html", takes_context=True)
def language_picker(context: dict[str, Any]) -> dict[str, Any]:
    from oasst.web.views.people import language_options

    request = context["request"]
    return {
        "request": request,
        "options": language_options(request.user),
        "current": request.user.task_language,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def language_label(code: str) -> str:
    return language_name(code)


@register.filter
def percent(value: float) -> int:
    return round(float(value) * 100)
