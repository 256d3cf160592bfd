"""Matching a provider's statement with our books, as pure values."""
from datetime import datetime

from billing.payments.interface import StatementKind, StatementLine
from billing.payments.reconciliation import Booked, DifferenceKind, compare

AT = datetime(2026, 11, 29, 12, 0)


def line(kind, reference, fen):
    return StatementLine(kind, reference, f"tx-{reference}", fen, AT)


def test_matching_lines_and_each_kind_of_difference():
    statement = [line(StatementKind.payment, "a", 100), line(StatementKind.refund, "a-r1", 40),
                 line(StatementKind.payment, "b", 250), line(StatementKind.payment, "stranger", 999)]
    books = [Booked(StatementKind.payment, "a", 100), Booked(StatementKind.refund, "a-r1", 40),
             Booked(StatementKind.payment, "b", 205), Booked(StatementKind.payment, "ours-only", 300)]

    matched, differences = compare(statement, books)

    assert matched == 2
    assert {(d.kind, d.reference, d.provider_fen, d.book_fen) for d in differences} == {
        (DifferenceKind.amount_differs, "b", 250, 205),
        (DifferenceKind.missing_in_books, "stranger", 999, None),
        (DifferenceKind.missing_at_provider, "ours-only", None, 300)}


def test_a_refund_and_a_payment_with_one_reference_are_different_entries():
    matched, differences = compare([line(StatementKind.refund, "x", 10)], [Booked(StatementKind.payment, "x", 10)])
    assert matched == 0 and {d.kind for d in differences} == {DifferenceKind.missing_in_books,
                                                              DifferenceKind.missing_at_provider}
