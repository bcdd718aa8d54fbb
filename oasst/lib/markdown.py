"""Markdown to safe HTML, the one renderer every page uses (messages, previews, chat).

markdown-it-py renders CommonMark with raw HTML switched off, then nh3 (the
ammonia sanitiser) keeps only an allow-list of tags and attributes, so neither
typed HTML nor a crafted link can run script. Both steps are needed: markdown
itself can produce ``javascript:`` links and images.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Raw HTML is off: whatever a contributor types is shown as text, never as markup.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
        ["table", "strikethrough"]
    )


@lru_cache(maxsize=512)
def render_markdown(text: str) -> str:
    """Render ``text`` as CommonMark (+ tables, strikethrough) and sanitise the HTML.

    Cached: a chat shows the same messages again on every turn, and the
    result depends on the text alone.
    """
    html = _parser().render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        filter_style_properties={"text-align"},
    )
