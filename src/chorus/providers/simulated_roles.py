"""How simulated models play the roles modes give them: they read the task like a model would.

Each role is recognised from the wording of its instruction (modes/prompts.py) and answered
from the actual texts in it: judges give JSON verdicts, aggregators combine the real member
answers, debaters take their side and answer the other one, experts keep their perspective.
Everything is deterministic: the same prompt gives the same answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence

Block = tuple[str, str]
"""(heading, body) of a `### heading` section of a prompt."""

TRAILERS = ("\n\nWrite one answer", "\n\nReply with JSON", "\n\nWrite every distinct point",
            "\n\nWrite one integrated recommendation")
BOILERPLATE = re.compile(
    r"^(here is a clear way|good question|let me break down|in short|if you want|that should "
    r"give|happy to expand|building on what you asked)", re.IGNORECASE)
SMALL_WORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "were", "be", "of", "to", "in", "on", "at", "for",
    "with", "by", "from", "as", "and", "or", "but", "if", "so", "than", "that", "this", "it",
    "its", "we", "you", "they", "what", "which", "who", "how", "can", "should", "would", "will",
    "do", "does", "not", "it's"))


def seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "big")


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in SMALL_WORDS}


def overlap(a: str, b: str) -> float:
    x, y = content_words(a), content_words(b)
    return len(x & y) / len(x | y) if x or y else 1.0


def sentences(text: str) -> list[str]:
    """The prose sentences of an answer, code blocks left out."""
    prose = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    found: list[str] = []
    for line in prose.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|#+)\s*", "", line).strip()
        found += [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*_])", line)
                  if len(s.split()) >= 3]
    return found


def substance(text: str) -> list[str]:
    """Sentences that carry content: a model's greetings and offers left out."""
    return [s for s in sentences(text) if not BOILERPLATE.match(s)] or sentences(text)


def distinct(candidates: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """(sentence, labels that said it), merging sentences that say the same thing."""
    merged: list[tuple[str, list[str]]] = []
    for label, sentence in candidates:
        same = next((m for m in merged if overlap(m[0], sentence) >= 0.6), None)
        if same is None:
            merged.append((sentence, [label]))
        elif label not in same[1]:
            same[1].append(label)
    return merged


def between(text: str, start: str, end: str) -> str:
    _, found, rest = text.partition(start)
    return rest.split(end, 1)[0].strip() if found else ""


def blocks(text: str) -> list[Block]:
    """The `### ` sections of a prompt, up to its closing instruction."""
    cut = max(text.rfind(t) for t in TRAILERS)
    body = text[:cut] if cut > 0 else text
    out: list[Block] = []
    for part in re.split(r"^### ", body, flags=re.MULTILINE)[1:]:
        heading, _, rest = part.partition("\n")
        out.append((heading.strip(), rest.strip()))
    return out


def topic(text: str, words: int = 5) -> str:
    picked = [w for w in re.findall(r"[A-Za-z0-9'-]+", text) if w.lower() not in SMALL_WORDS]
    return " ".join(picked[:words]).lower() or "this question"


def role_answer(model: str, system: str, instruction: str) -> str | None:
    """The answer of `model` in the role its instruction describes; None for a plain question."""
    for marker, play in ROLES:
        if marker in instruction:
            return play(model, instruction)
    expert = re.search(r"You sit on an expert council as the (.+?)\. Your perspective: (.+)",
                       system)
    if expert:
        return play_expert(model, expert.group(1), expert.group(2), instruction)
    return None


# ---- aggregators and judges --------------------------------------------------------------


def play_synthesis(model: str, prompt: str) -> str:
    answers = [body for _, body in blocks(prompt)]
    question = between(prompt, "Question:\n", "\n\n###")
    merged = distinct([(str(i), s) for i, body in enumerate(answers) for s in substance(body)])
    merged.sort(key=lambda m: -len(m[1]))
    points = [sentence for sentence, _ in merged[:6]]
    code = next((c for body in answers for c in re.findall(r"```.*?```", body, re.DOTALL)), "")
    opening = f"On {topic(question)}, the picture is clear once the main points are put together."
    return " ".join([opening, *points]) + (f"\n\n{code}" if code else "")


def play_union(model: str, prompt: str) -> str:
    said = [(heading.removeprefix("Answer from ").strip(), s)
            for heading, body in blocks(prompt) for s in substance(body)]
    return "\n".join(f"- {s} [{', '.join(labels)}]" for s, labels in distinct(said))


def _scores(answers: Sequence[str], question: str) -> list[float]:
    asked = content_words(question)
    return [len(content_words(a) & asked) * 2 + len(substance(a)) + len(a) / 400
            for a in answers]


def play_best_of_n(model: str, prompt: str) -> str:
    answers = [body for _, body in blocks(prompt)]
    question = between(prompt, "Question:\n", "\n\n###")
    scores = _scores(answers, question)
    best = max(range(len(answers)), key=lambda i: (scores[i], -i))
    reason = (f"Answer {best + 1} is the most complete: it makes {len(substance(answers[best]))} "
              f"distinct points and stays closest to the question about {topic(question)}.")
    return json.dumps({"best": best + 1, "reason": reason})


def play_consensus(model: str, prompt: str) -> str:
    answers = [body for _, body in blocks(prompt)]
    n = len(answers)
    means = [sum(overlap(answers[i], answers[j]) for j in range(n) if j != i) / max(1, n - 1)
             for i in range(n)]
    best = max(range(n), key=lambda i: (round(means[i], 9), -i))
    agreeing = [i + 1 for i in range(n) if i == best or overlap(answers[i], answers[best]) >= 0.3]
    reason = (f"Answer {best + 1} shares the most substance with the others; "
              f"{len(agreeing)} of {n} answers say essentially the same.")
    return json.dumps({"best": best + 1, "agreeing": agreeing, "reason": reason})


# ---- debate ------------------------------------------------------------------------------

ARGUMENTS = {
    "pro": (
        "The case for it is strongest where {topic} brings lasting benefits that outweigh the "
        "upfront cost.",
        "Those who have done it report gains in speed, quality and morale that compound over "
        "time.",
        "The risks are real but manageable with a staged rollout and clear measures of success.",
        "Standing still has a cost too: the current problems stay and others move ahead.",
    ),
    "con": (
        "The case against it is that {topic} promises more than it delivers once the hidden "
        "costs are counted.",
        "The success stories are the visible few; the failures are rarely written up.",
        "The cost of the transition, the disruption and the lock-in are easy to underestimate.",
        "A smaller, reversible step gets most of the benefit without betting everything.",
    ),
}
REBUTTALS = {
    "pro": ("but that treats a manageable risk as a reason to do nothing",
            "but it offers no evidence that the costs outweigh the long-term gains",
            "yet the staged approach I propose answers exactly that concern"),
    "con": ("but that assumes the best case and ignores what it costs to get there",
            "yet the benefits claimed are neither measured nor guaranteed",
            "but a cheaper, reversible option reaches the same goal with far less risk"),
}


def speeches(transcript: str) -> list[tuple[str, str]]:
    """(label, text) of each speech: `**Pro, round 1:** text`."""
    parts = re.split(r"\*\*((?:Pro|Con), (?:opening|round \d+)):\*\* ", transcript)
    return [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def play_debater(model: str, prompt: str) -> str:
    side = "pro" if "on the PRO side" in prompt else "con"
    other = "Con" if side == "pro" else "Pro"
    motion = between(prompt, "Proposition: ", "\n\n")
    transcript = between(prompt, "The debate so far:\n\n", "\n\nRound ")
    round_ = re.search(r"\n\nRound (\d+):", prompt)
    pick = seed(model, side, motion, round_.group(1) if round_ else "0")
    lines = [a.format(topic=topic(motion)) for a in ARGUMENTS[side]]
    if round_ is None:
        stance = "I stand for the proposition" if side == "pro" else \
            "I stand against the proposition"
        return " ".join([f"{stance}: {motion.rstrip('.?!')}.", lines[0],
                         lines[1 + pick % 3], lines[1 + (pick + 1) % 3]])
    theirs = [text for label, text in speeches(transcript) if label.startswith(other)]
    latest = theirs[-1] if theirs else ""
    if not latest or latest.startswith("(failed to answer"):
        answer = f"{other} gave no answer this round, so my case stands unchallenged."
    else:
        # Their newest argument closes their speech; the rest restates or rebuts.
        claim = (substance(latest) or [latest])[-1]
        words = claim.split()
        quoted = " ".join(words[:12]).rstrip(".,;:") + ("…" if len(words) > 12 else "")
        answer = f"{other} argues that \"{quoted}\", {REBUTTALS[side][pick % 3]}."
    return " ".join([f"Round {round_.group(1)}. {answer}", lines[1 + (pick + 2) % 3]])


def play_debate_judge(model: str, prompt: str) -> str:
    transcript = between(prompt, "Transcript:\n\n", "\n\nNote:") or \
        between(prompt, "Transcript:\n\n", "\n\nDecide")
    said = speeches(transcript)
    score = {"pro": 0.0, "con": 0.0}
    for label, text in said:
        side = label.split(",")[0].lower()
        if not text.startswith("(failed to answer"):
            score[side] += 10 + len(substance(text)) + len(content_words(text)) / 50
    score["pro"] += (seed(model, transcript) % 5) / 10
    gap = score["pro"] - score["con"]
    winner = "draw" if abs(gap) < 0.25 else ("pro" if gap > 0 else "con")
    if winner == "draw":
        reasoning = "Both sides argued with equal force and answered each other point for point."
    else:
        loser = "con" if winner == "pro" else "pro"
        missed = sum(1 for label, text in said
                     if label.lower().startswith(loser) and text.startswith("(failed"))
        reasoning = (f"{winner.capitalize()} gave the more concrete case and answered the "
                     f"other side directly in each round. "
                     + (f"{loser.capitalize()} missed {missed} turn(s), which left its case "
                        "incomplete." if missed else
                        f"{loser.capitalize()} raised fair objections but left the central "
                        "argument unanswered."))
    return json.dumps({"winner": winner, "reasoning": reasoning})


# ---- council -----------------------------------------------------------------------------

EXPERT_LINES = {
    "Domain Expert": ("The established practice for {topic} is well understood, and the "
                      "evidence favours the conventional, proven approach.",
                      "The key facts to get right first are the requirements, the constraints "
                      "and what good looks like."),
    "Devil's Advocate": ("The obvious answer on {topic} rests on assumptions that deserve a "
                         "hard look before anyone commits.",
                         "The biggest risk is the failure mode nobody planned for: what happens "
                         "if the main assumption turns out wrong?"),
    "Practical Implementer": ("To make {topic} real, start with a small pilot, measure it, "
                              "then scale what works.",
                              "Budget the effort honestly: setup, migration, training and the "
                              "maintenance nobody counts at the start."),
    "Strategic Thinker": ("In the long run, {topic} should serve the goals that matter in two "
                          "or three years, not only today's pressure.",
                          "Keep options open: prefer choices that are easy to reverse and that "
                          "do not lock you into one path."),
}


def play_expert(model: str, name: str, perspective: str, question: str) -> str:
    subject = topic(question)
    lines = EXPERT_LINES.get(name)
    if lines is None:
        focus = topic(perspective, 6)
        lines = (f"From the angle of {focus}, the real question about {{topic}} is what it "
                 "changes for the people it affects.",
                 f"Judged by {focus}, the answer depends on the details that are easy to "
                 "overlook at first.")
    opening = f"As the {name}, I look at this through {perspective.rstrip('.').lower()}."
    pick = seed(model, name, question) % 2
    return " ".join([opening, lines[pick].format(topic=subject),
                     lines[1 - pick].format(topic=subject)])


def play_synthesizer(model: str, prompt: str) -> str:
    question = between(prompt, "Question:\n", "\n\n###")
    views = [(heading.split(" (")[0], substance(body)) for heading, body in blocks(prompt)]
    parts = [f"**Recommendation on {topic(question)}:** move forward, but in a way that keeps "
             "the risks in check."]
    for name, said in views:
        if said:
            point = said[min(1, len(said) - 1)]
            parts.append(f"The {name} points out: {point}")
    steps = ["Agree on what success looks like and how it will be measured.",
             "Run a small, reversible pilot and review it against that measure.",
             "Decide on the wider rollout with the pilot's results in hand."]
    return " ".join(parts) + "\n\n**Next steps:**\n" + "\n".join(
        f"{i}. {step}" for i, step in enumerate(steps, 1))


ROLES: tuple[tuple[str, Callable[[str, str], str]], ...] = (
    ("You are combining answers that several AI models gave", play_synthesis),
    ("You are finding the consensus among answers", play_consensus),
    ("You are judging answers that several AI models gave", play_best_of_n),
    ("You are merging answers that several AI models gave", play_union),
    ("You are in a formal debate, on the", play_debater),
    ("You are the judge of a formal debate", play_debate_judge),
    ("You are the Synthesizer of an expert council", play_synthesizer),
)
