"""Read models of payments: an order the vendor follows, its refunds, and the reconciliation for operators."""
from sqlmodel import Session, select

from backend.core.clock import as_utc
from backend.payments.schemas import (DifferencePublic, PaymentOrderPublic, PaymentRequestPublic,
                                      ReconciliationPublic, RefundPublic, StatementCheckPublic)
from backend.payments.service import Requested
from billing.payments.models import Hold, Payment, PaymentDifference, Refund, StatementCheck


def requested_public(found: Requested) -> PaymentRequestPublic:
    return PaymentRequestPublic(order_no=found.order_no, provider=found.provider, purpose=found.purpose,
                                amount=found.amount, status=found.status, pay_params=found.pay_params)


def refund_public(found: Refund) -> RefundPublic:
    return RefundPublic(refund_no=found.external_id, provider=found.provider, payment=found.payment_external_id,
                        amount=found.amount, status=found.status.value, reason=found.reason)


def order_public(db: Session, found: Payment | Hold) -> PaymentOrderPublic:
    refunds = db.exec(select(Refund).where(Refund.payment_external_id == found.external_id).order_by(Refund.id))
    purpose = "hold" if isinstance(found, Hold) else found.purpose.value
    return PaymentOrderPublic(order_no=found.external_id, provider=found.provider, purpose=purpose,
                              amount=found.amount, status=found.status.value, session_id=found.session_id,
                              reason=found.failure_reason, refunds=[refund_public(r) for r in refunds],
                              created_at=as_utc(found.created_at))


def reconciliation_public(db: Session, limit: int = 60) -> ReconciliationPublic:
    checks = db.exec(select(StatementCheck).order_by(StatementCheck.day.desc(), StatementCheck.provider).limit(limit))
    differences = db.exec(select(PaymentDifference).order_by(PaymentDifference.day.desc(), PaymentDifference.id)
                          .limit(500))
    return ReconciliationPublic(
        checks=[StatementCheckPublic(provider=c.provider, day=c.day, lines=c.lines, matched=c.matched,
                                     differences=c.differences, checked_at=as_utc(c.checked_at)) for c in checks],
        differences=[DifferencePublic(provider=d.provider, day=d.day, kind=d.kind, reference=d.reference,
                                      provider_amount=d.provider_amount, book_amount=d.book_amount, detail=d.detail)
                     for d in differences])
