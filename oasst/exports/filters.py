"""What an export selects: the filters, their validation, and the querysets they make.

Semantics follow Open-Assistant's ``export.py`` (reference/oasst-format.md §5):
trees by state (default ``ready_for_export``) and by the prompt's language;
messages deleted, rejected as spam, or synthetic are left out unless included,
and trees holding any synthetic message are dropped whole; an "only" choice
or one user's messages make a selection of messages, not of complete trees,
so it is written one message per line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from oasst.trees.models import Message, MessageQuerySet, MessageTree, MessageTreeQuerySet, TreeState

EXCLUDE, INCLUDE, ONLY = "exclude", "include", "only"
INCLUSION = (EXCLUDE, INCLUDE, ONLY)
DEFAULT_STATES = (TreeState.READY_FOR_EXPORT.value,)


class InvalidFilters(ValueError):
    pass


@dataclass(frozen=True)
class ExportFilters:
    states: tuple[str, ...] = DEFAULT_STATES  # empty: every state
    langs: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    deleted: str = EXCLUDE
    spam: str = EXCLUDE
    synthetic: str = EXCLUDE
    prompts_only: bool = False
    user_id: int | None = None
    tree_ids: tuple[str, ...] = ()
    limit: int | None = None
    labels: bool = False
    events: bool = False
    anonymize: bool = True

    @property
    def selects_messages(self) -> bool:
        """Whether the selection is not made of complete trees (then it is written flat)."""
        return self.user_id is not None or ONLY in (self.deleted, self.spam, self.synthetic)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["states"] = list(self.states) or ["all"]
        data["langs"] = list(self.langs)
        data["tree_ids"] = list(self.tree_ids)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        return data

    def describe(self) -> str:
        """A short human summary for lists of exports."""
        parts = ["states: " + (", ".join(self.states) or "all")]
        if self.langs:
            parts.append("langs: " + ", ".join(self.langs))
        if self.since or self.until:
            parts.append(f"dates: {self.since or '…'} – {self.until or '…'}")
        for name in ("deleted", "spam", "synthetic"):
            if getattr(self, name) != EXCLUDE:
                parts.append(f"{getattr(self, name)} {name}")
        if self.prompts_only:
            parts.append("prompts only")
        if self.user_id is not None:
            parts.append(f"user {self.user_id}")
        if self.tree_ids:
            parts.append(f"{len(self.tree_ids)} chosen trees")
        if self.limit:
            parts.append(f"limit {self.limit}")
        parts.extend(name for name in ("labels", "events") if getattr(self, name))
        parts.append("anonymised" if self.anonymize else "not anonymised")
        return "; ".join(parts)


def _moment(value: Any, *, name: str, end_of_day: bool) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
        if end_of_day:
            moment += timedelta(days=1)
    else:
        text = str(value)
        parsed_date = parse_date(text) if len(text) == 10 else None
        if parsed_date is not None:
            return _moment(parsed_date, name=name, end_of_day=end_of_day)
        try:
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            raise InvalidFilters(f"{name}: not a date or date-time: {text!r}")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _names(value: Any, *, name: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if any(len(item) > 64 for item in names):
        raise InvalidFilters(f"{name}: entries must be short codes")
    return names


def parse_filters(data: dict[str, Any]) -> ExportFilters:
    """Build filters from a JSON-like dict (a form, an API body, a stored row); raises InvalidFilters."""
    data = dict(data)
    unknown = set(data) - set(ExportFilters.__dataclass_fields__)
    if unknown:
        raise InvalidFilters(f"unknown filters: {', '.join(sorted(unknown))}")
    states = _names(data.get("states", DEFAULT_STATES), name="states")
    if "all" in states or not states:
        states = ()
    bad_states = [state for state in states if state not in TreeState.values]
    if bad_states:
        raise InvalidFilters(f"states: unknown tree state {', '.join(bad_states)}")
    for name in ("deleted", "spam", "synthetic"):
        if data.get(name, EXCLUDE) not in INCLUSION:
            raise InvalidFilters(f"{name}: must be one of {', '.join(INCLUSION)}")
    limit = data.get("limit")
    if limit in ("", None):
        limit = None
    else:
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            raise InvalidFilters("limit: must be a whole number") from None
        if limit < 1:
            raise InvalidFilters("limit: must be at least 1")
    user_id = data.get("user_id")
    if user_id in ("", None):
        user_id = None
    else:
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            raise InvalidFilters("user_id: must be a user's number") from None
    since = _moment(data.get("since"), name="since", end_of_day=False)
    until = _moment(data.get("until"), name="until", end_of_day=True)
    if since and until and since >= until:
        raise InvalidFilters("since must be before until")
    return ExportFilters(
        states=states,
        langs=_names(data.get("langs"), name="langs"),
        since=since,
        until=until,
        deleted=data.get("deleted", EXCLUDE),
        spam=data.get("spam", EXCLUDE),
        synthetic=data.get("synthetic", EXCLUDE),
        prompts_only=bool(data.get("prompts_only", False)),
        user_id=user_id,
        tree_ids=_names(data.get("tree_ids"), name="tree_ids"),
        limit=limit,
        labels=bool(data.get("labels", False)),
        events=bool(data.get("events", False)),
        anonymize=bool(data.get("anonymize", True)),
    )


def select_trees(filters: ExportFilters) -> MessageTreeQuerySet:
    """The trees an export reads, before message filters."""
    trees = MessageTree.objects.all()
    if filters.states:
        trees = trees.in_state(*filters.states)
    if filters.langs:
        trees = trees.filter(lang__in=filters.langs)
    if filters.tree_ids:
        trees = trees.filter(pk__in=filters.tree_ids)
    if not filters.selects_messages:
        if filters.since:
            trees = trees.filter(created_at__gte=filters.since)
        if filters.until:
            trees = trees.filter(created_at__lt=filters.until)
    if filters.synthetic == EXCLUDE:
        # OA drops a whole tree when any of its messages is model-generated.
        trees = trees.exclude(Exists(Message.objects.filter(tree=OuterRef("pk"), synthetic=True)))
    return trees


def select_messages(filters: ExportFilters) -> MessageQuerySet:
    """The messages an export keeps, within the selected trees."""
    messages = Message.objects.all()
    if filters.deleted == EXCLUDE:
        messages = messages.filter(deleted=False)
    elif filters.deleted == ONLY:
        messages = messages.filter(deleted=True)
    if filters.spam == EXCLUDE:
        messages = messages.filter(review_result=True)
    elif filters.spam == ONLY:
        messages = messages.filter(review_result=False)
    if filters.synthetic == ONLY:
        messages = messages.filter(synthetic=True)
    if filters.prompts_only:
        messages = messages.roots()
    if filters.user_id is not None:
        messages = messages.filter(user_id=filters.user_id)
    if filters.selects_messages:
        if filters.since:
            messages = messages.filter(created_at__gte=filters.since)
        if filters.until:
            messages = messages.filter(created_at__lt=filters.until)
    return messages
