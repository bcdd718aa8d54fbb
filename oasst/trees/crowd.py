"""A simulated crowd: volunteers who take tasks and do them, for demos, tests and benchmarks.

``decide`` turns a wire task into a wire interaction (pure). The crowd then
runs either through the domain functions (``run_crowd``) or through any HTTP
client speaking Open-Assistant's v1 protocol (``HttpVolunteer``).
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oasst.accounts.models import User
from oasst.trees import submissions, tasks
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.models import MessageTree, TreeState

_serial = itertools.count(1)

SUBJECTS = {
    "en": ["sourdough bread", "a bicycle chain", "tide pools", "compound interest", "a job interview",
           "houseplants", "the water cycle", "chess openings", "a rainy weekend", "learning Python"],
    "es": ["el pan de masa madre", "una cadena de bicicleta", "las mareas", "el interés compuesto",
           "una entrevista de trabajo", "las plantas de interior", "el ciclo del agua", "el ajedrez"],
    "de": ["Sauerteigbrot", "eine Fahrradkette", "die Gezeiten", "der Zinseszins",
           "ein Vorstellungsgespräch", "Zimmerpflanzen", "der Wasserkreislauf", "Schacheröffnungen"],
}  # fmt: skip
PROMPTS = {
    "en": "Could you explain {subject} to me in simple terms? ({n})",
    "es": "¿Podrías explicarme {subject} con palabras sencillas? ({n})",
    "de": "Kannst du mir {subject} einfach erklären? ({n})",
}
ANSWERS = {
    "en": "Sure. The short version about {subject}: start small, watch what happens, and adjust. Note {n}.",
    "es": "Claro. Lo esencial sobre {subject}: empieza poco a poco, observa y ajusta. Nota {n}.",
    "de": "Gern. Das Wichtigste zu {subject}: klein anfangen, beobachten, nachjustieren. Notiz {n}.",
}
FOLLOW_UPS = {
    "en": "Thanks! What is the most common mistake people make with {subject}? ({n})",
    "es": "¡Gracias! ¿Cuál es el error más común con {subject}? ({n})",
    "de": "Danke! Was ist der häufigste Fehler bei {subject}? ({n})",
}


def compose_text(rng: random.Random, *, lang: str, kind: str) -> str:
    """A short, unique text of the right kind in the language (en, es or de; others get English)."""
    lang = lang if lang in SUBJECTS else "en"
    subject = rng.choice(SUBJECTS[lang])
    template = {"initial_prompt": PROMPTS, "assistant_reply": ANSWERS}.get(kind, FOLLOW_UPS)[lang]
    return template.format(subject=subject, n=f"{next(_serial)}-{rng.randrange(10**6)}")


def decide(task: dict[str, Any], *, rng: random.Random, p_spam: float = 0.05) -> dict[str, Any]:
    """What a reasonable volunteer submits for this wire task (the interaction body, no user)."""
    kind = task["type"]
    if kind in ("initial_prompt", "prompter_reply", "assistant_reply"):
        lang = task.get("lang") or "en"
        if task.get("conversation"):
            lang = task["conversation"]["messages"][-1]["lang"]
        return {
            "type": "text_reply_to_message",
            "message_id": task["id"],
            "user_message_id": str(uuid.uuid4()),
            "text": compose_text(rng, lang=lang, kind=kind),
            "lang": lang,
        }
    if kind.startswith("rank_"):
        order = list(range(len(task["reply_messages"])))
        # Volunteers mostly agree: longer answers first, with some noise.
        order.sort(key=lambda i: -len(task["reply_messages"][i]["text"]) + rng.random() * 40)
        return {"type": "message_ranking", "message_id": task["id"], "ranking": order}
    labels: dict[str, float] = {}
    for name in task["valid_labels"]:
        if name == "spam":
            labels[name] = 1.0 if rng.random() < p_spam else 0.0
        elif name in ("lang_mismatch", "pii", "not_appropriate", "hate_speech", "sexual_content"):
            labels[name] = 0.0
        else:
            labels[name] = rng.choice([0.25, 0.5, 0.75, 1.0])
    return {
        "type": "text_labels",
        "message_id": task["message_id"],
        "task_id": task["id"],
        "labels": labels,
        "text": "",
    }


@dataclass
class CrowdReport:
    steps: int = 0
    done: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    exported: int = 0


def count_exported(lang: str | None = None) -> int:
    trees = MessageTree.objects.filter(state=TreeState.READY_FOR_EXPORT)
    return (trees.filter(lang=lang) if lang else trees).count()


def do_task_in_process(user: User, *, lang: str, rng: random.Random) -> str:
    """One request → ack → interaction loop through the domain functions; returns the task type."""
    task = tasks.request_task(user, lang=lang)
    body = {"id": str(task.pk), "type": task.type, **task.payload, "lang": lang}
    tasks.ack_task(task, frontend_message_id=f"ack-{task.pk}")
    action = decide(body, rng=rng)
    if action["type"] == "text_reply_to_message":
        submissions.submit_reply(
            task,
            user=user,
            text=action["text"],
            lang=action["lang"],
            frontend_message_id=action["user_message_id"],
        )
    elif action["type"] == "message_ranking":
        submissions.submit_ranking(task, user=user, ranking=action["ranking"])
    else:
        submissions.submit_labels(
            user=user, message_id=action["message_id"], labels=action["labels"], task=task
        )
    return task.type


def run_crowd(
    volunteers: list[User],
    *,
    target_trees: int,
    lang: str = "en",
    max_steps: int = 100_000,
    seed: int = 0,
) -> CrowdReport:
    """Let the volunteers work in turn until ``target_trees`` more trees are ready for export."""
    rng = random.Random(seed)
    report = CrowdReport()
    goal = count_exported(lang) + target_trees
    while report.steps < max_steps:
        report.steps += 1
        user = volunteers[report.steps % len(volunteers)]
        try:
            report.done[do_task_in_process(user, lang=lang, rng=rng)] += 1
        except OasstError as exc:
            report.errors[exc.error_code] += 1
            if exc.error is not ErrorCode.TASK_REQUESTED_TYPE_NOT_AVAILABLE:
                raise
        if report.steps % 10 == 0 and count_exported(lang) >= goal:
            break
    report.exported = count_exported(lang)
    return report


Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


@dataclass
class HttpVolunteer:
    """A frontend user driven through the HTTP API by a trusted client's ``post``."""

    post: Post
    frontend_id: str
    lang: str = "en"
    rng: random.Random = field(default_factory=random.Random)

    @property
    def user(self) -> dict[str, str]:
        return {"id": self.frontend_id, "display_name": self.frontend_id, "auth_method": "local"}

    def work_once(self) -> tuple[str, int]:
        """request → ack → interaction; returns (task type or "none", last HTTP status)."""
        status, task = self.post(
            "/api/v1/tasks/", {"type": "random", "user": self.user, "lang": self.lang}
        )
        if status != 200:
            return "none", status
        ack_id = str(uuid.uuid4())
        status, _ = self.post(f"/api/v1/tasks/{task['id']}/ack", {"message_id": ack_id})
        if status != 204:
            return task["type"], status
        action = decide({**task, "lang": self.lang}, rng=self.rng)
        if action["type"] != "text_labels":
            action["message_id"] = ack_id
        status, _ = self.post("/api/v1/tasks/interaction", {**action, "user": self.user})
        return task["type"], status
