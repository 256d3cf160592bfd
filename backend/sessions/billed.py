"""What a settled session has been billed: its settlement plus every adjustment since."""
from decimal import Decimal

from sqlmodel import Session, select

from backend.sessions.models import BillLine, UsageSession


def billed_so_far(db: Session, session: UsageSession) -> Decimal:
    """The settled amount plus every adjustment since."""
    adjustments = select(BillLine.amount).where(BillLine.session_id == session.id, BillLine.kind == "adjustment")
    return (session.amount or Decimal("0.00")) + sum(db.exec(adjustments), Decimal("0.00"))
