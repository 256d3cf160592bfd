"""Matching a provider's daily statement with our books: pure values in, differences out.

Every line of the statement must match a booked entry of ours with the same reference and amount,
and every entry we booked through that provider on that day must be on the statement.
"""
from dataclasses import dataclass
from enum import StrEnum

from billing.payments.interface import StatementKind, StatementLine


class DifferenceKind(StrEnum):
    missing_in_books = "missing_in_books"  # the provider moved money we have no entry for
    missing_at_provider = "missing_at_provider"  # we booked money the provider's statement does not show
    amount_differs = "amount_differs"


@dataclass(frozen=True)
class Booked:
    """One entry of ours that a statement line should match: a payment, a capture or a refund."""

    kind: StatementKind
    reference: str  # our out_trade_no, hold number or out_refund_no
    amount_fen: int


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    reference: str
    provider_fen: int | None
    book_fen: int | None
    detail: str


def compare(statement: list[StatementLine], books: list[Booked]) -> tuple[int, list[Difference]]:
    """How many statement lines matched, and every difference either way."""
    ours = {(b.kind, b.reference): b for b in books}
    seen, matched, differences = set(), 0, []
    for line in statement:
        key = (line.kind, line.external_id)
        seen.add(key)
        found = ours.get(key)
        if found is None:
            differences.append(Difference(DifferenceKind.missing_in_books, line.external_id, line.amount_fen, None,
                                          f"{line.kind.value} {line.transaction_id} at {line.at:%H:%M:%S} is not in "
                                          f"our books"))
        elif found.amount_fen != line.amount_fen:
            differences.append(Difference(DifferenceKind.amount_differs, line.external_id, line.amount_fen,
                                          found.amount_fen, f"{line.kind.value} {line.transaction_id}"))
        else:
            matched += 1
    for key, booked in ours.items():
        if key not in seen:
            differences.append(Difference(DifferenceKind.missing_at_provider, booked.reference, None,
                                          booked.amount_fen, f"our {booked.kind.value} is not on the statement"))
    return matched, differences
