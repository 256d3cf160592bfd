"""Import every table so SQLModel.metadata is complete (for Alembic and tests)."""
from backend.alarms.models import Alarm, AlarmWatch
from backend.audit.models import AuditEntry
from backend.dtu.models import Dlt645Channel, Dlt645Memory, DtuLink
from backend.meters.models import QuarantineEntry, Reading
from backend.points.models import Meter, MeteringPoint, Outlet
from backend.points.water import WaterCoefficient
from backend.sessions.models import BillLine, UsageSession
from backend.tariffs.models import Tariff
from backend.users.models import AttemptCounter, RevokedToken, User
from billing.idempotency.models import IdempotentRequest
from billing.ledger.models import JournalEntry, LedgerAccount, Posting
from billing.payments.models import (Hold, Payment, PaymentDifference, PaymentNotification, Refund, StatementCheck,
                                     StripeEvent)

__all__ = ["Alarm", "AlarmWatch", "AttemptCounter", "AuditEntry", "BillLine", "Dlt645Channel", "Dlt645Memory",
           "DtuLink", "Hold", "IdempotentRequest",
           "JournalEntry", "LedgerAccount", "Meter", "MeteringPoint", "Outlet", "Payment", "PaymentDifference",
           "PaymentNotification", "Posting", "QuarantineEntry", "Reading", "Refund", "RevokedToken", "StatementCheck",
           "StripeEvent", "Tariff", "UsageSession", "User", "WaterCoefficient"]
