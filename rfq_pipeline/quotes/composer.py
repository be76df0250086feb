"""Cover text: a deterministic template, and a guarded wrapper around any other composer (e.g. an LLM).

``compose_with_guardrails`` tries the composer up to ``1 + retries`` times; each attempt that fails a guardrail is
recorded with its failures, and after the last failure the template is used. A composer that raises counts as a
failed attempt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rfq_pipeline.quotes.catalog import Catalog
from rfq_pipeline.quotes.guardrails import MONEY, GuardrailResult, check_all
from rfq_pipeline.quotes.pricing import PricedLine, grand_total


@dataclass(frozen=True)
class ComposeInput:
    rfq_id: str
    title: str
    country: str
    currency: str
    incoterm: str
    fx_as_of: str
    lines: list[PricedLine]
    catalog: Catalog
    unmatched: list[str] = field(default_factory=list)


Composer = Callable[[ComposeInput], str]


@dataclass(frozen=True)
class Attempt:
    number: int
    source: str
    passed: bool
    failures: tuple[str, ...]


@dataclass(frozen=True)
class ComposeResult:
    text: str
    source: str  # "composer" or "template"
    guardrails: list[GuardrailResult]
    attempts: list[Attempt]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.guardrails)


def _money(value: object, currency: str) -> str:
    return f"{currency} {value}"


# Buyer text quoted in the template loses what the guardrails read as an offer (percentages, money amounts): the
# template must pass them whatever the buyer wrote, or an RFQ saying "90% off" would fail its own draft.
_OFFER_LIKE = re.compile(r"\d+(?:[.,]\d+)?\s?%|" + MONEY.pattern, re.IGNORECASE)


def _neutral(text: str) -> str:
    return " ".join(_OFFER_LIKE.sub("…", text).split())


def template_composer(draft: ComposeInput) -> str:
    parts = [f'Thank you for your request "{_neutral(draft.title)}". Please find our {draft.incoterm} offer below.']
    for line in draft.lines:
        if line.priced:
            parts.append(
                f"- {line.sku} {line.name}: {line.quantity:,} {line.unit} at {_money(line.unit_price, line.currency)} "
                f"per {line.unit}, line total {_money(line.total, line.currency)}."
            )
        elif "below_moq" in line.flags:
            parts.append(f"- {line.sku} {line.name}: {line.quantity:,} is below our minimum order; we will confirm.")
    for phrase in draft.unmatched:
        parts.append(f'- "{_neutral(phrase)}": we will confirm the exact product with you.')
    total = grand_total(draft.lines)
    if total is not None:
        parts.append(
            f"Total: {_money(total, draft.currency)} ({draft.incoterm}, exchange rate as of {draft.fx_as_of})."
        )
    parts.append("Prices are valid for 14 days and subject to final confirmation of specifications.")
    return "\n".join(parts)


def _failures(results: list[GuardrailResult]) -> tuple[str, ...]:
    return tuple(f"{result.name}: {failure}" for result in results for failure in result.failures)


def compose_with_guardrails(draft: ComposeInput, composer: Composer | None = None, retries: int = 2) -> ComposeResult:
    attempts: list[Attempt] = []
    if composer is not None:
        for number in range(1, retries + 2):
            try:
                text = composer(draft)
            except Exception as error:  # a composer failure of any kind is one failed attempt, never a crash
                attempts.append(
                    Attempt(number, "composer", False, (f"composer raised {type(error).__name__}: {error}",))
                )
                continue
            results = check_all(text, draft.lines, draft.catalog)
            failures = _failures(results)
            attempts.append(Attempt(number, "composer", not failures, failures))
            if not failures:
                return ComposeResult(text, "composer", results, attempts)
    text = template_composer(draft)
    results = check_all(text, draft.lines, draft.catalog)
    failures = _failures(results)
    attempts.append(Attempt(len(attempts) + 1, "template", not failures, failures))
    return ComposeResult(text, "template", results, attempts)
