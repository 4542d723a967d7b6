"""What each role is asked: the instructions of aggregators, judges, debaters and experts.

Judges are asked for JSON only; verdict.py still reads answers that ignore that.
"""

from __future__ import annotations

from collections.abc import Sequence

from chorus.modes import ExpertRole
from chorus.modes.details import Verdict

Labelled = tuple[str, str]
"""(label, text): an answer and who or what it is shown as."""


def _numbered(answers: Sequence[str]) -> str:
    return "\n\n".join(f"### Answer {i}\n{text.strip()}" for i, text in enumerate(answers, 1))


def synthesis(question: str, answers: Sequence[str]) -> str:
    return (
        "You are combining answers that several AI models gave to the same question.\n\n"
        f"Question:\n{question}\n\n{_numbered(answers)}\n\n"
        "Write one answer to the question that keeps what is correct and useful in these "
        "answers, fixes or drops what is wrong, and resolves their disagreements. Answer the "
        "question directly, as if you were the only one answering; do not mention the answers "
        "or the models.")


def best_of_n(question: str, answers: Sequence[str]) -> str:
    return (
        "You are judging answers that several AI models gave to the same question. Pick the "
        "single best one: the most correct, complete and helpful.\n\n"
        f"Question:\n{question}\n\n{_numbered(answers)}\n\n"
        "Reply with JSON only, no other text: "
        '{"best": <the number of the best answer>, "reason": "<one or two sentences>"}')


def consensus(question: str, answers: Sequence[str]) -> str:
    return (
        "You are finding the consensus among answers that several AI models gave to the same "
        "question. Pick the answer that agrees most with the others in substance, and list "
        "every answer that agrees with it.\n\n"
        f"Question:\n{question}\n\n{_numbered(answers)}\n\n"
        "Reply with JSON only, no other text: "
        '{"best": <number of the answer>, "agreeing": [<numbers of the answers that agree '
        'with it, itself included>], "reason": "<one sentence>"}')


def union(question: str, answers: Sequence[Labelled]) -> str:
    blocks = "\n\n".join(f"### Answer from {label}\n{text.strip()}" for label, text in answers)
    return (
        "You are merging answers that several AI models gave to the same question.\n\n"
        f"Question:\n{question}\n\n{blocks}\n\n"
        "Write every distinct point made in any of the answers, each point once, as a markdown "
        "list. End each point with the models that made it in square brackets, like:\n"
        "- Water boils at 100 °C at sea level. [model-a, model-b]\n"
        "Keep every point, even one only a single model made; merge points that say the same "
        "thing. Write nothing before or after the list.")


SIDE_STANCE = {"pro": "PRO side: you argue for the proposition",
               "con": "CON side: you argue against the proposition"}


def debate_turn(question: str, side: str, transcript: str, round_: int) -> str:
    other = "Con" if side == "pro" else "Pro"
    if round_ == 0:
        task = "Give your opening statement."
    else:
        task = (f"Round {round_}: answer {other}'s latest argument directly, point by point, "
                "and strengthen your own case.")
    history = f"The debate so far:\n\n{transcript}\n\n" if transcript else ""
    return (
        f"You are in a formal debate, on the {SIDE_STANCE[side]}.\n\n"
        f"Proposition: {question}\n\n{history}{task} Stay on your side, do not concede the "
        "proposition, and be concise: at most three short paragraphs.")


def debate_judge(question: str, transcript: str, failures: Sequence[str]) -> str:
    notes = ""
    if failures:
        notes = ("\n\nNote: some turns are missing because the model failed to answer: "
                 + "; ".join(failures) + ". Judge only what was said.")
    return (
        "You are the judge of a formal debate between Pro (for the proposition) and Con "
        "(against it).\n\n"
        f"Proposition: {question}\n\nTranscript:\n\n{transcript}{notes}\n\n"
        "Decide which side argued better: stronger evidence, sounder reasoning, and direct "
        "answers to the other side. Reply with JSON only, no other text: "
        '{"winner": "pro" | "con" | "draw", "reasoning": "<two to four sentences>"}')


def debate_answer(question: str, transcript: str, verdict: Verdict) -> str:
    outcome = (f"The verdict: {verdict.winner} won. {verdict.reasoning or ''}".strip()
               if verdict.winner else "The debate ended without a verdict.")
    return (
        "A formal debate between Pro and Con has been held on the question below, and judged."
        f"\n\nQuestion: {question}\n\nTranscript:\n\n{transcript}\n\n{outcome}\n\n"
        "Now answer the question itself, in the format required, taking the strongest "
        "arguments and the verdict into account.")


def expert(role: ExpertRole) -> str:
    return (
        f"You sit on an expert council as the {role.name}. Your perspective: "
        f"{role.perspective.strip()}\n"
        "Answer the user's question from this perspective only; other experts cover the other "
        "angles. Be specific and concise.")


def synthesizer(question: str, experts: Sequence[tuple[ExpertRole, str]]) -> str:
    blocks = "\n\n".join(f"### {role.name} ({role.perspective.strip()})\n{text.strip()}"
                         for role, text in experts)
    return (
        "You are the Synthesizer of an expert council. Each expert below answered the "
        "question from their own perspective.\n\n"
        f"Question:\n{question}\n\n{blocks}\n\n"
        "Write one integrated recommendation: build on what the experts agree on, weigh "
        "their disagreements and say which way you lean and why, and end with clear next "
        "steps. Do not just repeat the experts one by one.")
