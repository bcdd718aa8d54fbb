"""Import dataset files (both JSONL shapes, gzipped or not, and Parquet) into the tree tables.

Idempotent by message id: a message already present is skipped, so running an
import twice changes nothing the second time. Ranks, labels, review counts and
results, deletion flags, emojis and tree states are kept when present. Authors
become placeholder users (one per author id of the file, under a disabled
``import`` API client, never able to sign in). Every record is validated and
the report says what was rejected and why; a rejected message takes its
replies with it.

Ids: a message id that is a UUID is kept as the primary key; any other string
(an anonymised 64-hex id, OA's short seed ids) maps to a stable UUIDv5, and the
original is kept as ``frontend_message_id``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from oasst.accounts.models import ApiClient, User
from oasst.exports.reader import INVALID, TREE, read_records
from oasst.trees.labels import LABELS
from oasst.trees.models import TERMINAL_STATES, Message, MessageTree, Role, TextLabel, TreeState

ID_NAMESPACE = uuid.UUID("0f6d0c8e-5d3b-4f0e-9a55-6f6173737430")
IMPORT_CLIENT = "import"
DEFAULT_STATE = TreeState.BACKLOG_RANKING
MAX_REPORTED = 1000
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


@dataclass
class ImportReport:
    records: int = 0
    trees_created: int = 0
    messages_created: int = 0
    messages_skipped: int = 0
    rejected_count: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def reject(self, line: int, message_id: object, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append({"line": line, "message_id": message_id, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "trees_created": self.trees_created,
            "messages_created": self.messages_created,
            "messages_skipped": self.messages_skipped,
            "rejected_count": self.rejected_count,
            "rejected": self.rejected,
            "dry_run": self.dry_run,
        }

    def summary(self) -> str:
        prefix = "dry run: would import" if self.dry_run else "imported"
        return (
            f"{prefix} {self.messages_created} messages in {self.trees_created} new trees; "
            f"{self.messages_skipped} already present; {self.rejected_count} rejected"
        )


def message_uuid(message_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(message_id)
    except ValueError:
        return uuid.uuid5(ID_NAMESPACE, message_id)


def check_message(obj: dict[str, Any]) -> str | None:
    """What is wrong with one message record (JSON flavour), or None."""
    message_id = obj.get("message_id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 200:
        return "message_id must be a non-empty string of at most 200 characters"
    if not isinstance(obj.get("text"), str) or not obj["text"].strip():
        return "text must be a non-empty string"
    if obj.get("role") not in Role.values:
        return f"role must be prompter or assistant, got {obj.get('role')!r}"
    parent_id = obj.get("parent_id")
    if parent_id is not None and (not isinstance(parent_id, str) or not parent_id):
        return "parent_id must be a string or null"
    lang = obj.get("lang")
    if lang is not None and (not isinstance(lang, str) or len(lang) > 32 or not _LANG.match(lang)):
        return f"lang is not a language tag: {lang!r}"
    for name in ("review_count", "rank"):
        value = obj.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            return f"{name} must be a whole number ≥ 0 or null"
    for name in ("review_result", "deleted", "synthetic"):
        if obj.get(name) is not None and not isinstance(obj[name], bool):
            return f"{name} must be true, false or null"
    model_name = obj.get("model_name")
    if model_name is not None and (not isinstance(model_name, str) or len(model_name) > 1024):
        return "model_name must be a string of at most 1024 characters"
    created = obj.get("created_date")
    if created is not None and _parse_date(created) is None:
        return f"created_date is not an ISO-8601 date-time: {created!r}"
    emojis = obj.get("emojis")
    if emojis is not None and (
        not isinstance(emojis, dict)
        or any(
            not isinstance(count, int) or isinstance(count, bool) or count < 0
            for count in emojis.values()
        )
    ):
        return "emojis must map emoji codes to counts"
    labels = obj.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            return "labels must be an object"
        for name, label in labels.items():
            if name not in LABELS:
                return f"unknown label {name!r}"
            if not isinstance(label, dict):
                return f"label {name} must be {{value, count}}"
            value, count = label.get("value"), label.get("count")
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
            ):
                return f"label {name}: value must lie in [0, 1] or be null"
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                return f"label {name}: count must be a whole number ≥ 0"
    state = obj.get("tree_state")
    if state is not None and state not in TreeState.values:
        return f"unknown tree_state {state!r}"
    return None


def _parse_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def flatten_tree(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A tree record's messages depth-first, each with the tree's id, state and origin."""
    prompt = tree["prompt"]
    stack = [(prompt, None)]
    while stack:
        node, parent_id = stack.pop()
        message = {key: value for key, value in node.items() if key != "replies"}
        if parent_id is not None:
            message["parent_id"] = parent_id
        message["message_tree_id"] = tree["message_tree_id"]
        message["tree_state"] = tree.get("tree_state")
        message["origin"] = tree.get("origin")
        yield message
        replies = node.get("replies") or []
        if isinstance(replies, list):
            stack.extend((reply, node.get("message_id")) for reply in reversed(replies))


def _units(records: Iterable[tuple[int, str, Any]], report: ImportReport) -> Iterator[list]:
    """Groups of (line, message) imported together: a tree, or consecutive rows of one tree."""
    group: list[tuple[int, dict[str, Any]]] = []
    group_tree: object = None
    for line, kind, obj in records:
        report.records += 1
        if kind == INVALID:
            report.reject(line, None, obj)
            continue
        if kind == TREE:
            prompt = obj.get("prompt")
            if not isinstance(prompt, dict) or not isinstance(obj.get("message_tree_id"), str):
                report.reject(
                    line, obj.get("message_tree_id"), "a tree needs message_tree_id and a prompt"
                )
                continue
            if prompt.get("message_id") != obj["message_tree_id"]:
                report.reject(
                    line, obj["message_tree_id"], "message_tree_id differs from prompt.message_id"
                )
                continue
            if group:
                yield group
                group, group_tree = [], None
            yield [(line, message) for message in flatten_tree(obj)]
            continue
        tree_id = obj.get("message_tree_id")
        if group and (tree_id is None or tree_id != group_tree):
            yield group
            group = []
        group.append((line, obj))
        group_tree = tree_id
    if group:
        yield group


def import_client() -> ApiClient:
    """The disabled API client that scopes placeholder authors, made on first use."""
    client = ApiClient.objects.filter(name=IMPORT_CLIENT).first()
    if client is None:
        # Disabled and with a hash of nothing anyone knows: it exists to scope placeholder users.
        client = ApiClient.objects.create(
            name=IMPORT_CLIENT,
            key_prefix="",
            key_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
            enabled=False,
            frontend_type="import",
            description="Placeholder authors of imported datasets",
        )
    return client


def placeholder_user(client: ApiClient, author: str, *, display_name: str = "") -> User:
    """The user standing for ``author`` under ``client``: never able to sign in, off the leaderboard."""
    user = User.objects.filter(api_client=client, auth_method="import", frontend_id=author).first()
    if user is None:
        user = User(
            username=f"import-{hashlib.sha256(author.encode()).hexdigest()[:24]}",
            api_client=client,
            auth_method="import",
            frontend_id=author,
            display_name=display_name or f"imported {author[:12]}",
            show_on_leaderboard=False,
        )
        user.set_unusable_password()
        user.save()
    return user


@dataclass
class _Placed:
    pk: uuid.UUID
    role: str
    depth: int
    tree_id: uuid.UUID


class Importer:
    def __init__(
        self,
        *,
        state: str | None,
        synthetic: bool,
        origin: str,
        fallback_origin: str,
        model_name: str,
        report: ImportReport,
    ) -> None:
        self.state = state
        self.synthetic = synthetic
        self.origin = origin
        self.fallback_origin = fallback_origin
        self.model_name = model_name
        self.report = report
        self.client = import_client()
        self.users: dict[str, int] = {}
        self.rejected: set[str] = set()
        self.seen: set[str] = set()

    def placeholder_user(self, author: str) -> int:
        """The user standing for ``author`` (an id from the file), created on first sight."""
        if author not in self.users:
            self.users[author] = placeholder_user(self.client, author).pk
        return self.users[author]

    def author_for(self, obj: dict[str, Any], parent: _Placed | None) -> int:
        author = obj.get("user_id")
        candidate = self.placeholder_user(str(author)) if author is not None else None
        if parent is None:
            return candidate if candidate is not None else self.placeholder_user("unknown-0")
        taken = set(Message.objects.filter(parent_id=parent.pk).values_list("user_id", flat=True))
        if candidate is not None and candidate not in taken:
            return candidate
        # One reply per person per parent is a rule of the tree tables; unknown or
        # repeated authors (e.g. one model's replies) get numbered stand-ins.
        index = 0
        while (stand_in := self.placeholder_user(f"unknown-{index}")) in taken:
            index += 1
        return stand_in

    def import_unit(self, unit: list[tuple[int, dict[str, Any]]]) -> None:
        """Import a tree (or a run of one tree's rows) all or nothing."""
        placed: dict[str, _Placed] = {}
        report = self.report
        before = (report.trees_created, report.messages_created, report.messages_skipped)
        users = dict(self.users)
        try:
            with transaction.atomic():
                for line, obj in unit:
                    self.import_message(line, obj, placed)
        except DatabaseError as exc:
            report.trees_created, report.messages_created, report.messages_skipped = before
            self.users = users  # placeholders made in the rolled-back savepoint are gone too
            line, obj = unit[0]
            report.reject(line, obj.get("message_id"), f"the database refused it: {exc}")

    def _find(self, message_id: str, placed: dict[str, _Placed]) -> _Placed | None:
        if message_id in placed:
            return placed[message_id]
        row = (
            Message.objects.filter(pk=message_uuid(message_id))
            .values_list("pk", "role", "depth", "tree_id")
            .first()
        )
        return _Placed(*row) if row else None

    def import_message(self, line: int, obj: dict[str, Any], placed: dict[str, _Placed]) -> None:
        report = self.report
        message_id = obj.get("message_id")
        problem = check_message(obj)
        if problem is None and message_id in self.seen:
            problem = "duplicate message_id in this file"
        parent_key = obj.get("parent_id")
        parent: _Placed | None = None
        if problem is None and parent_key is not None:
            if parent_key in self.rejected:
                problem = f"its parent {parent_key} was rejected"
            else:
                parent = self._find(parent_key, placed)
                if parent is None:
                    problem = (
                        f"parent {parent_key} is neither in the file before it nor in the database"
                    )
                elif parent.role == obj["role"]:
                    problem = (
                        f"a {obj['role']} reply to a {parent.role} message (roles must alternate)"
                    )
        if problem is None and parent is None and obj["role"] != Role.PROMPTER:
            problem = "a conversation must start with a prompter message"
        if problem is not None:
            report.reject(line, message_id, problem)
            if isinstance(message_id, str):
                self.rejected.add(message_id)
            return
        self.seen.add(message_id)
        existing = self._find(message_id, {})
        if existing is not None:
            placed[message_id] = existing
            report.messages_skipped += 1
            return
        pk = message_uuid(message_id)
        created_at = _parse_date(obj.get("created_date")) or timezone.now()
        if parent is None:
            tree_id = self._ensure_tree(pk, obj, created_at).pk
            depth = 0
        else:
            tree_id = parent.tree_id
            depth = parent.depth + 1
        synthetic = obj.get("synthetic")
        if synthetic is None:
            synthetic = self.synthetic
        message = Message.objects.create(
            id=pk,
            tree_id=tree_id,
            parent_id=parent.pk if parent else None,
            user_id=self.author_for(obj, parent),
            api_client=self.client,
            frontend_message_id=message_id,
            role=obj["role"],
            text=obj["text"],
            lang=obj.get("lang") or "en",
            depth=depth,
            review_count=obj.get("review_count") or 0,
            review_result=obj.get("review_result", True),
            rank=obj.get("rank"),
            synthetic=synthetic,
            model_name=obj.get("model_name") or (self.model_name if synthetic else ""),
            deleted=bool(obj.get("deleted")),
            emojis=obj.get("emojis") or {},
            created_at=created_at,
        )
        if parent is not None and not message.deleted:
            Message.objects.filter(pk=parent.pk).update(children_count=F("children_count") + 1)
        self._import_labels(message, obj.get("labels") or {})
        placed[message_id] = _Placed(pk, message.role, depth, tree_id)
        report.messages_created += 1

    def _ensure_tree(self, pk: uuid.UUID, obj: dict[str, Any], created_at: datetime) -> MessageTree:
        tree = MessageTree.objects.filter(pk=pk).first()
        if tree is not None:
            return tree
        state = self.state or obj.get("tree_state") or DEFAULT_STATE
        self.report.trees_created += 1
        # Imported trees are not grown further by the crowd, so their size goals are 0 (as OA's import).
        return MessageTree.objects.create(
            id=pk,
            state=state,
            active=state not in TERMINAL_STATES,
            lang=obj.get("lang") or "en",
            goal_tree_size=0,
            max_depth=0,
            max_children_count=0,
            origin=(self.origin or obj.get("origin") or self.fallback_origin)[:1024],
            created_at=created_at,
            state_changed_at=timezone.now(),
        )

    def _import_labels(self, message: Message, labels: dict[str, dict[str, Any]]) -> None:
        """Recreate aggregated labels as rows from numbered stand-in labelers.

        Every row carries the mean, so the exporter (mean of equal values is the
        value itself) writes back exactly the same value and count.
        """
        most = max((label["count"] for label in labels.values()), default=0)
        for index in range(most):
            values = {
                name: label["value"] for name, label in labels.items() if index < label["count"]
            }
            TextLabel.objects.create(
                message=message,
                user_id=self.placeholder_user(f"labeler-{index}"),
                api_client=self.client,
                labels=values,
                created_at=message.created_at,
            )


def import_file(
    path: Path,
    *,
    state: str | None = None,
    synthetic: bool = False,
    origin: str = "",
    model_name: str = "",
    dry_run: bool = False,
) -> ImportReport:
    """Import a dataset file; with ``dry_run`` everything is checked and then rolled back."""
    if state and state not in TreeState.values:
        raise ValueError(f"unknown tree state {state!r}")
    report = ImportReport(dry_run=dry_run)
    with transaction.atomic():
        importer = Importer(
            state=state or (DEFAULT_STATE if synthetic else None),
            synthetic=synthetic,
            origin=origin,
            fallback_origin=path.name,
            model_name=model_name,
            report=report,
        )
        for unit in _units(read_records(path), report):
            importer.import_unit(unit)
        if dry_run:
            transaction.set_rollback(True)
    return report
