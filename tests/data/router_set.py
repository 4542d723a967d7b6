"""The router's labelled questions, with long pastes generated here (records marked "generated").

Labels (tests/data/router_questions.jsonl), one category per question, first rule that applies:
long (the input is 3,000 tokens or more), multilingual (written mainly in another language than
English, or about translating / a foreign word), code, math, reasoning, creative, facts.
Difficulty: "hard" when a small cheap model would likely get it wrong or do it poorly; a
hand-written guess kept with the data but no longer fitted or tested on: the router's difficulty
is learned from real outcomes (bench/fit_router.py), and this set checks categories.
The held-out split is every fourth question of each category (by file order), plus every
question marked "fresh": those were written after the weights were last changed and measured
once, untouched; none of the held-out questions is ever fitted on.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).with_name("router_questions.jsonl")
_PASTE = re.compile(r"\{\{paste:(\w+):(\d+)\}\}")


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    category: str
    hard: bool
    text: str
    held_out: bool
    generated: bool
    fresh: bool


def load(path: Path = PATH) -> list[Question]:
    out: list[Question] = []
    position: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        category = record["category"]
        index = position[category] = position.get(category, -1) + 1
        text = _PASTE.sub(lambda m, rid=record["id"]: paste(m[1], int(m[2]), rid),
                          record["question"])
        out.append(Question(record["id"], category, record["difficulty"] == "hard", text,
                            held_out=index % 4 == 3 or bool(record.get("fresh")),
                            generated=bool(record.get("generated")),
                            fresh=bool(record.get("fresh"))))
    return out


def paste(kind: str, size: int, seed: str) -> str:
    """About `size` tokens (four characters each) of filler of one kind, fixed by the seed."""
    rng = random.Random(f"{seed}:{kind}:{size}")
    make = PASTES[kind]
    parts: list[str] = []
    chars = 0
    while chars < 4 * size:
        part = make(rng)
        parts.append(part)
        chars += len(part) + 1
    return "\n".join(parts)


NAMES = ("Priya", "Tom", "Aiko", "Marcus", "Leila", "Jonas", "Sofia", "Dmitri", "Grace", "Omar")
SERVICES = ("api-gateway", "orders", "payments-worker", "auth", "search", "inventory", "mailer")
TOPICS = ("the Q3 roadmap", "the onboarding flow", "pricing for the enterprise plan",
          "the mobile release", "hiring for the data team", "the migration to the new warehouse",
          "customer churn in the EU", "the partner integration", "the on-call rotation")
VERBS = ("we should", "I'm not sure we can", "the plan is to", "last time we tried to",
         "customers keep asking us to", "legal wants us to", "nobody has time to",
         "finance agreed to", "the board expects us to", "I'd rather we didn't")
ACTIONS = ("ship it before the end of the month", "cut the scope in half", "hire two contractors",
           "delay the launch by a sprint", "run a pilot with three customers",
           "move the deadline to October", "drop support for the old API",
           "double the marketing budget", "freeze new features until the bugs are fixed",
           "rewrite the billing service", "keep the current vendor for another year")


def _transcript(rng: random.Random) -> str:
    minute = rng.randrange(0, 180)
    who = rng.choice(NAMES)
    line = (f"{rng.choice(VERBS).capitalize()} {rng.choice(ACTIONS)}, "
            f"because of {rng.choice(TOPICS)}.")
    if rng.random() < 0.3:
        when = rng.choice(("Friday", "next week", "the 15th"))
        line += f" {rng.choice(NAMES)}, can you own that by {when}?"
    return f"[{minute // 60:02d}:{minute % 60:02d}:{rng.randrange(60):02d}] {who}: {line}"


def _log(rng: random.Random) -> str:
    level = rng.choices(("INFO", "WARN", "ERROR", "DEBUG"), (70, 15, 5, 10))[0]
    service = rng.choice(SERVICES)
    stamp = (f"2025-03-14T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
             f"{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z")
    messages = {
        "INFO": (f"GET /v1/{rng.choice(('orders', 'users', 'cart'))}/{rng.randrange(10**6)}"
                 f" 200 {rng.randrange(5, 400)}ms", f"deploy {rng.randrange(100, 999)} finished",
                 f"cache hit ratio {rng.randrange(60, 99)}%"),
        "WARN": (f"slow query {rng.randrange(500, 9000)}ms on table orders",
                 f"retrying upstream call attempt={rng.randrange(1, 4)}",
                 f"connection pool at {rng.randrange(70, 100)}% (max=20)"),
        "ERROR": ("db pool exhausted, waiting=57", "upstream timeout after 30000ms",
                  f"OOM in worker pid={rng.randrange(1000, 9999)}", "TLS handshake failed"),
        "DEBUG": (f"span id={rng.getrandbits(48):012x} closed",
                  f"config key feature.checkout_v2={rng.choice(('on', 'off'))}"),
    }[level]
    return f"{stamp} {level:5} {service} req={rng.getrandbits(32):08x} {rng.choice(messages)}"


PARTIES = ("the Supplier", "the Buyer", "either Party", "the Licensee", "the Licensor")
OBLIGATIONS = ("deliver the Goods to the Delivery Point", "pay each undisputed invoice",
               "maintain insurance of not less than EUR 5,000,000",
               "keep all Confidential Information strictly confidential",
               "notify the other Party of any Force Majeure Event",
               "indemnify the other Party against third-party claims",
               "comply with all applicable export control laws",
               "provide monthly reports on service levels")


START = ("of the Effective Date", "after receipt of a written request", "of delivery",
         "following termination")
PROVISO = ("has not committed a material breach", "has given prior written notice",
           "is not subject to insolvency proceedings")


def _contract(rng: random.Random) -> str:
    section = rng.randrange(1, 25)
    return (f"{section}.{rng.randrange(1, 12)} {rng.choice(PARTIES)} shall "
            f"{rng.choice(OBLIGATIONS)} within {rng.choice((5, 10, 14, 30, 60, 90))} days "
            f"{rng.choice(START)}, provided that {rng.choice(PARTIES)} {rng.choice(PROVISO)}.")


def _code(rng: random.Random) -> str:
    noun = rng.choice(("invoice", "line", "tax", "discount", "currency", "customer", "total"))
    verb = rng.choice(("compute", "apply", "load", "validate", "format", "round", "merge"))
    arg = rng.choice(("items", "amount", "rates", "record", "rows"))
    return (f"def {verb}_{noun}_{rng.randrange(100)}({arg}, precision=2):\n"
            f"    result = []\n"
            f"    for entry in {arg}:\n"
            f"        value = entry.get('{noun}', 0) * {rng.choice(('1.2', 'rate', '100'))}\n"
            f"        if value {rng.choice(('>', '<', '>=', '=='))} {rng.randrange(0, 500)}:\n"
            f"            result.append(round(value, precision))\n"
            f"    return {rng.choice(('sum(result)', 'result', 'result[-1]'))}\n")


SUBJECTS = ("Urban heat islands", "Average commute times", "Household energy use",
            "Small-business lending", "Groundwater levels", "Hospital waiting lists",
            "Youth unemployment", "Rail freight volumes", "Broadband coverage")
TRENDS = ("rose sharply", "fell slightly", "stayed broadly flat", "varied widely by region",
          "doubled", "recovered after the pandemic dip", "diverged between cities and villages")
CAUSES = ("new zoning rules", "higher interest rates", "an unusually dry summer",
          "the end of a subsidy programme", "a change in how the data were collected",
          "population growth", "investment in public transport")


def _article(rng: random.Random) -> str:
    sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(TRENDS)} between {rng.randrange(2005, 2015)}"
                 f" and {rng.randrange(2016, 2025)}, which the authors attribute to "
                 f"{rng.choice(CAUSES)}." for _ in range(rng.randrange(3, 7))]
    return " ".join(sentences) + "\n"


def _paper(rng: random.Random) -> str:
    heading = rng.choice(("Method", "Results", "Discussion", "Related work", "Limitations"))
    body = (f"We fit a mixed-effects model with {rng.randrange(3, 12)} covariates on "
            f"{rng.randrange(200, 20000)} participants; the effect size was "
            f"d = {rng.random():.2f} (95% CI {rng.random():.2f} to {1 + rng.random():.2f}). ")
    return f"{heading}. {body}{_article(rng)}"


REGIONS = ("north", "south", "east", "west", "central")


def _csv(rng: random.Random) -> str:
    return (f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d},{rng.choice(REGIONS)},"
            f"SKU-{rng.randrange(100, 140)},{rng.randrange(1, 400)},{rng.randrange(5, 500)}.99")


def _thread(rng: random.Random) -> str:
    sender, to = rng.sample(NAMES, 2)
    return (f"From: {sender.lower()}@example.com\nTo: {to.lower()}@example.com\n"
            f"Subject: Re: {rng.choice(TOPICS)}\n\nHi {to},\n{rng.choice(VERBS).capitalize()} "
            f"{rng.choice(ACTIONS)}. {_article(rng)}Best,\n{sender}\n")


FR = ("Le conseil municipal a voté", "Les habitants du quartier ont demandé",
      "Selon le rapport publié mardi,", "La préfecture a confirmé que", "D'après les experts,")
FR_END = ("la rénovation de la piscine sera reportée à l'année prochaine.",
          "les tarifs des transports augmenteront de cinq pour cent.",
          "la qualité de l'air s'est nettement améliorée depuis l'hiver.",
          "les travaux de la nouvelle ligne de tramway prendront deux ans de plus.")
DE = ("Laut dem Jahresbericht", "Nach Angaben der Stadtwerke", "Die Geschäftsführung erklärte,",
      "Im dritten Quartal", "Wie die Behörde mitteilte,")
DE_END = ("sind die Energiekosten deutlich gestiegen.",
          "wurde der Umsatz um acht Prozent gesteigert.",
          "bleibt die Zahl der Beschäftigten stabil.", "verzögert sich der Ausbau des Netzes.")
ES = ("Según el informe anual,", "El ayuntamiento recomienda que", "Los técnicos señalan que",
      "En la sección cuatro se propone que", "La dirección considera que")
ES_END = ("el presupuesto de mantenimiento se reduzca un diez por ciento.",
          "se contrate personal adicional para el verano.",
          "las obras del puerto comiencen antes de marzo.",
          "no se amplíe el horario de la biblioteca.")


def _prose(starts: tuple[str, ...], ends: tuple[str, ...]) -> Callable[[random.Random], str]:
    return lambda rng: " ".join(f"{rng.choice(starts)} {rng.choice(ends)}" for _ in range(4))


PASTES: dict[str, Callable[[random.Random], str]] = {
    "transcript": _transcript, "log": _log, "contract": _contract, "code": _code,
    "article": _article, "paper": _paper, "csv": _csv, "thread": _thread,
    "fr": _prose(FR, FR_END), "de": _prose(DE, DE_END), "es": _prose(ES, ES_END),
}
