"""Demo content for a fresh install: a few volunteers and trees in every state, in en, es and de.

The conversations were written for this project. ``seed_demo`` builds them
row by row (with the consensus ranks computed by the real scorer), marking
the trees with ``origin="seed_demo"`` so a second run does nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oasst.accounts.models import User
from oasst.trees import lifecycle
from oasst.trees.models import (
    TERMINAL_STATES,
    Message,
    MessageTree,
    Ranking,
    Role,
    Task,
    TaskType,
    TextLabel,
    TreeState,
)

ORIGIN = "seed_demo"
S = TreeState


@dataclass
class Answer:
    text: str
    follow_up: str = ""
    follow_up_answers: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    prompt: str
    answers: list[Answer] = field(default_factory=list)


# One conversation per state, per language; the order matches STATE_ORDER.
STATE_ORDER = [
    S.INITIAL_PROMPT_REVIEW,
    S.PROMPT_LOTTERY_WAITING,
    S.ABORTED_LOW_GRADE,
    S.GROWING,
    S.RANKING,
    S.READY_FOR_SCORING,
    S.READY_FOR_EXPORT,
    S.SCORING_FAILED,
    S.HALTED_BY_MODERATOR,
    S.BACKLOG_RANKING,
]

CONVERSATIONS: dict[str, list[Conversation]] = {
    "en": [
        Conversation("What should I pack for a three-day hike in the Scottish Highlands in May?"),
        Conversation(
            "My tomato plants have yellow leaves at the bottom. Is that a problem, and what can I do?"
        ),
        Conversation("buy cheap followers now!!! best price click"),
        Conversation(
            "How do I explain to my eight-year-old why the sky is blue?",
            [
                Answer(
                    "Sunlight looks white but is really a mix of all colours. When it passes "
                    "through the air, the tiny bits of air bounce the blue part around much more "
                    "than the red part, so blue light reaches our eyes from every direction of the "
                    "sky. You can compare it to a pinball machine where the blue balls bounce the most.",
                    "Why is the sunset orange then?",
                    [
                        "At sunset the light travels through much more air to reach you. Most of "
                        "the blue has been bounced away on the long trip, so what is left is the "
                        "orange and red part of the light."
                    ],
                ),
                Answer(
                    "Tell them the air is full of invisible specks that love to play catch with "
                    "blue light. They toss it all over the sky, so wherever you look up, some of "
                    "that blue comes your way."
                ),
            ],
        ),
        Conversation(
            "Can you suggest a simple weekly meal plan for someone who is learning to cook?",
            [
                Answer(
                    "Start with five dishes that share ingredients: a vegetable omelette, pasta "
                    "with tomato sauce, a tray of roasted vegetables with chickpeas, a stir-fry "
                    "with rice, and a big pot of lentil soup that lasts two days. Shop once, cook "
                    "the soup on Sunday, and reuse leftover vegetables in the stir-fry.",
                    "I don't own an oven. What would you swap?",
                    [
                        "Replace the roasted tray with a pan of sautéed vegetables and chickpeas "
                        "with cumin and a squeeze of lemon; everything else works on a hob.",
                        "Make a shakshuka instead: peppers and onions softened in a pan, tinned "
                        "tomatoes, then eggs poached on top. It uses the same vegetables.",
                    ],
                ),
                Answer(
                    "Monday: omelette. Tuesday: pasta. Wednesday: soup. Thursday: rice bowl. "
                    "Friday: whatever is left. Keep it simple and repeat the plan until the "
                    "dishes feel easy, then change one dish a week."
                ),
            ],
        ),
        Conversation(
            "What is the difference between a virus and a bacterium?",
            [
                Answer(
                    "Bacteria are single living cells: they eat, grow and divide on their own, "
                    "and many are harmless or even helpful. Viruses are much smaller packages of "
                    "genetic material that can only multiply inside the cells of another organism. "
                    "That is why antibiotics work against bacteria but not against viruses."
                ),
                Answer(
                    "A bacterium is alive on its own; a virus needs a host cell to copy itself. "
                    "Antibiotics only help against bacteria."
                ),
            ],
        ),
        Conversation(
            "Write a short, friendly reminder to my neighbours about the shared bike shed.",
            [
                Answer(
                    "Hi neighbours! A quick reminder about our bike shed: please lock your bike "
                    "to the rack rather than the door, and take away bikes you no longer use so "
                    "there is room for everyone. Thanks for helping keep it tidy!",
                    "Could you make it a bit more formal?",
                    [
                        "Dear residents, we kindly ask that bicycles in the shared shed be locked "
                        "to the racks provided and that unused bicycles be removed by the end of "
                        "the month. Thank you for your cooperation."
                    ],
                ),
                Answer(
                    "Hello all, please remember the bike shed is shared. Lock bikes to the racks, "
                    "keep the door clear and remove old bikes. Thank you!"
                ),
            ],
        ),
        Conversation(
            "How many minutes should I boil an egg for a soft yolk?",
            [
                Answer(
                    "Lower a room-temperature egg into boiling water and cook it for six to six "
                    "and a half minutes, then cool it briefly under cold water. The white will be "
                    "set and the yolk runny."
                ),
                Answer("About four minutes for very runny, seven for jammy."),
            ],
        ),
        Conversation(
            "Is it safe to look at a solar eclipse with sunglasses?",
            [
                Answer(
                    "No. Ordinary sunglasses block far too little light and can let your eyes "
                    "be damaged without any pain. Use certified eclipse glasses or a pinhole "
                    "projector instead."
                )
            ],
        ),
        Conversation(
            "Summarise the plot of Romeo and Juliet in three sentences.",
            [
                Answer(
                    "Two young people from feuding families in Verona fall in love and marry in "
                    "secret. A street fight ends with Romeo killing Juliet's cousin, and he is "
                    "banished. A plan to reunite them goes wrong, and both die, which finally "
                    "reconciles their families."
                ),
                Answer(
                    "Romeo and Juliet fall in love despite their families' feud. After Romeo is "
                    "exiled, Juliet fakes her death, but Romeo believes it is real. Both take "
                    "their own lives, and the families make peace."
                ),
            ],
        ),
    ],
    "es": [
        Conversation("¿Qué documentos necesito para alquilar un piso en Madrid?"),
        Conversation("¿Cómo puedo aprender a tocar la guitarra si solo tengo media hora al día?"),
        Conversation("jajaja prueba prueba hola"),
        Conversation(
            "¿Por qué el pan se pone duro cuando se queda fuera de la bolsa?",
            [
                Answer(
                    "Porque pierde humedad y, sobre todo, porque el almidón se recristaliza al "
                    "enfriarse. Por eso un pan algo duro se recupera unos minutos en el horno: "
                    "el calor deshace en parte esos cristales.",
                    "¿Y congelarlo ayuda?",
                    [
                        "Sí. A temperaturas de congelación el almidón apenas cambia, así que el pan "
                        "congelado en rebanadas y tostado directamente sabe casi recién hecho."
                    ],
                ),
                Answer("Se seca con el aire. Guárdalo en una bolsa de tela."),
            ],
        ),
        Conversation(
            "Dame ideas para un cumpleaños infantil en casa con poco presupuesto.",
            [
                Answer(
                    "Prepara una búsqueda del tesoro con pistas dibujadas, una mesa para decorar "
                    "galletas y una sesión de baile con estatuas musicales. Pide a cada familia "
                    "que traiga un plato sencillo y usa globos y papel de periódico pintado como "
                    "decoración.",
                    "Son niños de cuatro años, ¿cambiarías algo?",
                    [
                        "Con cuatro años, mejor pistas con fotos en lugar de dibujos, juegos cortos "
                        "de diez minutos y un rincón tranquilo con cojines y cuentos.",
                        "Haría la búsqueda del tesoro en una sola habitación y añadiría pompas de "
                        "jabón; a esa edad les encantan y cuestan muy poco.",
                    ],
                ),
                Answer(
                    "Juegos clásicos: la silla musical, el pañuelo y pintar caras. Una tarta "
                    "casera de bizcocho y listo."
                ),
            ],
        ),
        Conversation(
            "¿Cuál es la diferencia entre el clima y el tiempo?",
            [
                Answer(
                    "El tiempo es lo que pasa en la atmósfera en un momento y lugar concretos: "
                    "si hoy llueve en Sevilla. El clima es el promedio de ese tiempo durante "
                    "muchos años: en Sevilla los veranos suelen ser muy calurosos y secos."
                ),
                Answer("El tiempo es de hoy; el clima, de décadas."),
            ],
        ),
        Conversation(
            "Escribe un mensaje corto para felicitar a una compañera por su jubilación.",
            [
                Answer(
                    "¡Querida Marta, enhorabuena por tu jubilación! Gracias por tantos años de "
                    "buen humor y de ayuda siempre que la necesitábamos. Disfruta de todo el "
                    "tiempo que ahora es tuyo.",
                    "¿Puedes hacerlo un poco más divertido?",
                    [
                        "¡Marta, por fin eres oficialmente la jefa de tu propio horario! Te vamos "
                        "a echar de menos, sobre todo a la hora del café. ¡Feliz jubilación!"
                    ],
                ),
                Answer(
                    "Enhorabuena por esta nueva etapa. Ha sido un placer trabajar contigo. "
                    "¡Te deseamos lo mejor!"
                ),
            ],
        ),
        Conversation(
            "¿Cuánta agua necesita una planta de interior?",
            [
                Answer(
                    "Depende de la planta, pero una regla útil es regar cuando los primeros dos "
                    "o tres centímetros de tierra estén secos y hacerlo hasta que el agua salga "
                    "por el agujero de la maceta. El exceso de riego mata más plantas que la sequía."
                ),
                Answer("Un vaso a la semana suele bastar para la mayoría."),
            ],
        ),
        Conversation(
            "¿Es verdad que solo usamos el diez por ciento del cerebro?",
            [
                Answer(
                    "No, es un mito. Las imágenes del cerebro muestran que usamos prácticamente "
                    "todas sus regiones, aunque no todas a la vez, y hasta las lesiones pequeñas "
                    "tienen efectos notables."
                )
            ],
        ),
        Conversation(
            "Resume en dos frases qué es la fotosíntesis.",
            [
                Answer(
                    "Es el proceso con el que las plantas usan la luz del sol para convertir el "
                    "agua y el dióxido de carbono en azúcares. Como resultado liberan oxígeno."
                ),
                Answer(
                    "Las plantas captan luz con la clorofila y fabrican su propio alimento a "
                    "partir de agua y CO2, desprendiendo oxígeno."
                ),
            ],
        ),
    ],
    "de": [
        Conversation("Wie bereite ich mich am besten auf eine mündliche Prüfung vor?"),
        Conversation("Welche Zimmerpflanzen kommen mit wenig Licht im Flur zurecht?"),
        Conversation("test test 123 hallo??"),
        Conversation(
            "Warum beschlägt die Brille, wenn ich im Winter in einen warmen Raum komme?",
            [
                Answer(
                    "Die Gläser sind noch kalt. Die warme Raumluft enthält Wasserdampf, der an "
                    "der kalten Oberfläche abkühlt und als feine Tröpfchen kondensiert – genau "
                    "wie an einer kalten Flasche aus dem Kühlschrank.",
                    "Kann man das verhindern?",
                    [
                        "Ein hauchdünner Film aus Spülmittel oder ein Antibeschlagtuch hilft: "
                        "Das Wasser bildet dann einen glatten Film statt vieler Tröpfchen."
                    ],
                ),
                Answer("Kalte Gläser, warme feuchte Luft: Kondenswasser."),
            ],
        ),
        Conversation(
            "Kannst du mir einen Wochenplan für den Einstieg ins Laufen machen?",
            [
                Answer(
                    "Drei Einheiten pro Woche reichen. Woche eins: sechsmal eine Minute laufen, "
                    "zwei Minuten gehen. Jede Woche verlängerst du die Laufminute etwas, bis du "
                    "nach etwa acht Wochen zwanzig Minuten am Stück schaffst. Dazwischen immer "
                    "einen Ruhetag.",
                    "Ich habe Knieprobleme. Was sollte ich beachten?",
                    [
                        "Lauf auf weichem Untergrund, halte die Schritte kurz und steigere dich "
                        "langsamer. Lass das Knie vorher ärztlich anschauen, wenn es beim Laufen "
                        "schmerzt.",
                        "Kräftige Oberschenkel und Hüfte zweimal pro Woche, zum Beispiel mit "
                        "Kniebeugen an der Wand, und achte auf gut gedämpfte Schuhe.",
                    ],
                ),
                Answer(
                    "Montag, Mittwoch und Samstag je zwanzig Minuten locker laufen, sonst "
                    "spazieren gehen. Nach vier Wochen auf dreißig Minuten erhöhen."
                ),
            ],
        ),
        Conversation(
            "Was ist der Unterschied zwischen Wetter und Klima?",
            [
                Answer(
                    "Wetter beschreibt den Zustand der Atmosphäre an einem Ort zu einer "
                    "bestimmten Zeit, etwa Regen heute in Hamburg. Klima ist der Durchschnitt "
                    "des Wetters über mindestens dreißig Jahre."
                ),
                Answer("Wetter ist heute, Klima ist der langjährige Mittelwert."),
            ],
        ),
        Conversation(
            "Schreib eine kurze Nachricht an meinen Vermieter, dass die Heizung nicht geht.",
            [
                Answer(
                    "Sehr geehrter Herr Wagner, seit gestern Abend funktioniert die Heizung in "
                    "meiner Wohnung nicht mehr, alle Heizkörper bleiben kalt. Könnten Sie bitte "
                    "zeitnah einen Handwerker schicken? Ich bin werktags ab 16 Uhr erreichbar. "
                    "Mit freundlichen Grüßen",
                    "Kannst du noch eine Frist setzen?",
                    [
                        "Gern: Ergänze „Ich bitte Sie, die Reparatur bis spätestens Freitag, "
                        "den 14., zu veranlassen.“ So ist die Bitte klar und freundlich zugleich."
                    ],
                ),
                Answer(
                    "Hallo Herr Wagner, die Heizung ist kaputt. Bitte kümmern Sie sich schnell "
                    "darum. Danke!"
                ),
            ],
        ),
        Conversation(
            "Wie lange muss Reis kochen?",
            [
                Answer(
                    "Langkornreis braucht meist zwölf bis fünfzehn Minuten bei kleiner Hitze "
                    "mit Deckel, danach fünf Minuten quellen lassen. Vollkornreis braucht etwa "
                    "doppelt so lange."
                ),
                Answer("Etwa eine Viertelstunde, je nach Sorte."),
            ],
        ),
        Conversation(
            "Stimmt es, dass Goldfische nur drei Sekunden Gedächtnis haben?",
            [
                Answer(
                    "Nein. Versuche zeigen, dass Goldfische sich monatelang an Futterzeiten, "
                    "Töne oder Farben erinnern können. Das Drei-Sekunden-Gedächtnis ist ein Mythos."
                )
            ],
        ),
        Conversation(
            "Fasse in zwei Sätzen zusammen, worum es in Goethes Faust geht.",
            [
                Answer(
                    "Der Gelehrte Faust ist von seinem Wissen enttäuscht und schließt einen Pakt "
                    "mit Mephisto, der ihm Erfüllung verspricht. Seine Liebe zu Gretchen endet "
                    "tragisch, und am Ende steht die Frage nach Schuld und Erlösung."
                ),
                Answer(
                    "Faust verkauft seine Seele an den Teufel, um das Leben voll auszukosten. "
                    "Dabei stürzt er Gretchen ins Unglück."
                ),
            ],
        ),
    ],
}

DEMO_PEOPLE = [
    ("demo-ana", "Ana", ["es", "en"]),
    ("demo-ben", "Ben", ["en"]),
    ("demo-clara", "Clara", ["de", "en"]),
    ("demo-dara", "Dara", ["en", "de"]),
    ("demo-eli", "Eli", ["es"]),
    ("demo-finn", "Finn", ["de"]),
    ("demo-gia", "Gia", ["en", "es"]),
]


def ensure_demo_people() -> list[User]:
    people = []
    for username, name, languages in DEMO_PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "display_name": name,
                "languages": languages,
                "tos_accepted_at": timezone.now(),
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        people.append(user)
    return people


class _Builder:
    """Writes one demo tree; authors rotate through the demo people."""

    def __init__(self, people: list[User], tree: MessageTree, *, accepted: bool, synthetic: bool):
        self.people = people
        self.tree = tree
        self.accepted = accepted
        self.synthetic = synthetic
        self.turn = 0
        self.clock = tree.created_at

    def author(self, avoid: set[int]) -> User:
        for _ in range(len(self.people)):
            self.turn += 1
            user = self.people[self.turn % len(self.people)]
            if user.pk not in avoid:
                return user
        raise RuntimeError("not enough demo people")

    def add(self, text: str, *, parent: Message | None, role: str, result: bool | None) -> Message:
        self.clock += timedelta(minutes=17)
        taken = set(
            Message.objects.filter(parent=parent).values_list("user_id", flat=True)
            if parent
            else []
        )
        message = Message.objects.create(
            id=self.tree.pk if parent is None else uuid.uuid4(),
            tree=self.tree,
            parent=parent,
            user=self.author(taken),
            role=role,
            text=text,
            lang=self.tree.lang,
            depth=0 if parent is None else parent.depth + 1,
            review_count=3 if result is not None else 1,
            review_result=result,
            synthetic=self.synthetic and role == Role.ASSISTANT,
            model_name="demo-model" if self.synthetic and role == Role.ASSISTANT else "",
            created_at=self.clock,
        )
        if parent is not None:
            Message.objects.filter(pk=parent.pk).update(children_count=parent.children_count + 1)
            parent.children_count += 1
        self.add_reviews(message, count=message.review_count)
        return message

    def add_reviews(self, message: Message, *, count: int) -> None:
        reviewers = [p for p in self.people if p.pk != message.user_id][:count]
        spam = 1.0 if message.review_result is False else 0.0
        for reviewer in reviewers:
            task = Task.objects.create(
                type=_label_type(message),
                payload={"mode": "full", "valid_labels": ["spam", "lang_mismatch", "quality"]},
                user=reviewer,
                ack=True,
                done=True,
                done_at=self.clock,
                tree=self.tree,
                parent_message=message,
                created_at=self.clock,
            )
            TextLabel.objects.create(
                id=task.pk,
                task=task,
                message=message,
                user=reviewer,
                labels={"spam": spam, "lang_mismatch": 0.0, "quality": 0.25 if spam else 0.75},
                created_at=self.clock,
            )

    def rank(self, parent: Message, *, times: int) -> None:
        replies = list(Message.objects.filter(parent=parent).accepted().order_by("created_at"))
        if len(replies) < 2:
            return
        authors = {reply.user_id for reply in replies}
        rankers = [p for p in self.people if p.pk not in authors][:times]
        for position, ranker in enumerate(rankers):
            # Most rankers prefer the longer, more careful answer.
            order = sorted(replies, key=lambda m: -len(m.text))
            if position == len(rankers) - 1 and len(order) > 1:
                order[0], order[1] = order[1], order[0]
            task = Task.objects.create(
                type=TaskType.RANK_ASSISTANT_REPLIES,
                payload={"reply_messages": [{"id": str(m.pk)} for m in replies]},
                user=ranker,
                ack=True,
                done=True,
                done_at=self.clock,
                tree=self.tree,
                parent_message=parent,
            )
            Ranking.objects.create(
                task=task,
                user=ranker,
                parent=parent,
                tree=self.tree,
                ranked_message_ids=[str(m.pk) for m in order],
                ranking=[replies.index(m) for m in order],
            )
            Message.objects.filter(pk__in=[m.pk for m in replies]).update(
                ranking_count=position + 1
            )


def _label_type(message: Message) -> str:
    if message.parent_id is None:
        return TaskType.LABEL_INITIAL_PROMPT
    if message.role == Role.ASSISTANT:
        return TaskType.LABEL_ASSISTANT_REPLY
    return TaskType.LABEL_PROMPTER_REPLY


def build_demo_tree(
    people: list[User], *, lang: str, state: str, conversation: Conversation, age_days: int
) -> MessageTree:
    created = timezone.now() - timedelta(days=age_days)
    grew = state not in (S.INITIAL_PROMPT_REVIEW, S.PROMPT_LOTTERY_WAITING, S.ABORTED_LOW_GRADE)
    tree = MessageTree.objects.create(
        state=state,
        active=state not in TERMINAL_STATES,
        lang=lang,
        goal_tree_size=settings.OASST_GOAL_TREE_SIZE,
        max_depth=settings.OASST_MAX_TREE_DEPTH,
        max_children_count=settings.OASST_MAX_CHILDREN_COUNT,
        origin=ORIGIN,
        won_lottery_at=created + timedelta(hours=3)
        if grew and state != S.BACKLOG_RANKING
        else None,
        state_changed_at=created + timedelta(days=1),
        created_at=created,
    )
    builder = _Builder(
        people, tree, accepted=state != S.ABORTED_LOW_GRADE, synthetic=state == S.BACKLOG_RANKING
    )
    root_result = {S.INITIAL_PROMPT_REVIEW: None, S.ABORTED_LOW_GRADE: False}.get(state, True)
    root = builder.add(conversation.prompt, parent=None, role=Role.PROMPTER, result=root_result)
    for index, answer in enumerate(conversation.answers):
        in_review = state == S.GROWING and index == 1
        reply = builder.add(
            answer.text, parent=root, role=Role.ASSISTANT, result=None if in_review else True
        )
        if answer.follow_up:
            follow_up = builder.add(answer.follow_up, parent=reply, role=Role.PROMPTER, result=True)
            for text in answer.follow_up_answers:
                builder.add(text, parent=follow_up, role=Role.ASSISTANT, result=True)
    if state in (S.READY_FOR_SCORING, S.READY_FOR_EXPORT, S.SCORING_FAILED, S.RANKING):
        times = 1 if state == S.RANKING else settings.OASST_NUM_REQUIRED_RANKINGS
        for parent in Message.objects.filter(tree=tree, role=Role.PROMPTER):
            builder.rank(parent, times=times)
    if state == S.READY_FOR_EXPORT:
        lifecycle.write_consensus_ranks(tree)
    return tree


@transaction.atomic
def seed_demo() -> int:
    """Create the demo people and trees unless they exist; returns how many trees were made."""
    if MessageTree.objects.filter(origin=ORIGIN).exists():
        return 0
    people = ensure_demo_people()
    made = 0
    for lang, conversations in CONVERSATIONS.items():
        for index, (state, conversation) in enumerate(zip(STATE_ORDER, conversations, strict=True)):
            build_demo_tree(
                people, lang=lang, state=state, conversation=conversation, age_days=30 - 3 * index
            )
            made += 1
    return made
