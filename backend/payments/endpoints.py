"""Payments the vendor follows (`/payments/orders/…`) and the operator's reconciliation (`/payments/statements`)."""
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path

from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.core.errors import NotFound
from backend.deps import CurrentUser, Operator, SessionDep
from backend.payments import views
from backend.payments.deps import Payments
from backend.payments.schemas import PaymentOrderPublic, ReconciliationPublic
from backend.payments import statements
from backend.payments.statements import StatementDayNotOver
from backend.users.models import Role
from billing.payments.holds import hold_by_intent
from billing.payments.interface import PaymentServiceUnavailable
from billing.payments.providers import PaymentMethodUnavailable
from billing.payments.service import payment_by_external_id

router = APIRouter(prefix="/payments", tags=["payments"], route_class=ApiRoute)
OrderNo = Annotated[str, Path(min_length=6, max_length=120, pattern=r"^[A-Za-z0-9_\-]+$")]
ProviderName = Annotated[str, Path(pattern=r"^(stripe|wechat|alipay)$")]


class PaymentOrderNotFound(NotFound):
    pass


@router.get("/orders/{order_no}", response_model=PaymentOrderPublic,
            responses=refusals(*SIGNED_IN, PaymentOrderNotFound))
def read_order(order_no: OrderNo, db: SessionDep, user: CurrentUser) -> PaymentOrderPublic:
    """A payment or hold: pending until WeChat or Alipay confirms it, then its session and any refunds."""
    found = payment_by_external_id(db, order_no) or hold_by_intent(db, order_no)
    if found is None or (user.role != Role.operator and found.user_id != user.id):
        raise PaymentOrderNotFound(f"payment order {order_no} does not exist")
    return views.order_public(db, found)


@router.get("/statements", response_model=ReconciliationPublic, responses=refusals(*WITH_ROLE))
def read_reconciliation(db: SessionDep, operator: Operator) -> ReconciliationPublic:
    """Each provider's daily statement (对账单) against the books, and every difference for an operator (operators)."""
    return views.reconciliation_public(db)


@router.post("/statements/{provider}/{day}", response_model=ReconciliationPublic, status_code=201,
             responses=refusals(*WITH_ROLE, PaymentMethodUnavailable, StatementDayNotOver, PaymentServiceUnavailable))
def reconcile_now(provider: ProviderName, day: date, db: SessionDep, operator: Operator,
                  payments: Payments) -> ReconciliationPublic:
    """Fetch one provider's statement of a past day now and compare it with the books (operators; audited)."""
    statements.reconcile_now(db, payments, provider, day, operator)
    return views.reconciliation_public(db)
