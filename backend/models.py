"""Import every table so SQLModel.metadata is complete (for Alembic and tests)."""
from backend.alarms.models import Alarm, AlarmWatch
from backend.audit.models import AuditEntry
from backend.broker_accounts.models import BrokerAccount
from backend.dtu.models import Dlt645Channel, Dlt645Memory, DtuLink
from backend.jobs.models import JobLease, SchedulerInstance
from backend.meters.models import QuarantineEntry, Reading
from backend.points.models import Meter, MeteringPoint, Outlet
from backend.points.notices import PointNotice
from backend.points.water import WaterCoefficient
from backend.reconciliation.models import DailyReconciliation, MonthlyStatement
from backend.sessions.models import BillLine, UsageSession
from backend.tariffs.models import Tariff
from backend.users.models import AttemptCounter, RevokedToken, User
from billing.idempotency.models import IdempotentRequest
from billing.ledger.models import JournalEntry, LedgerAccount, Posting
from billing.payments.models import (Hold, Payment, PaymentDifference, PaymentNotification, Refund, StatementCheck,
                                     StripeEvent)

__all__ = ["Alarm", "AlarmWatch", "AttemptCounter", "AuditEntry", "BillLine", "BrokerAccount", "DailyReconciliation",
           "Dlt645Channel", "Dlt645Memory", "DtuLink", "Hold", "IdempotentRequest", "JobLease", "JournalEntry",
           "LedgerAccount", "Meter", "MeteringPoint", "MonthlyStatement", "Outlet", "Payment", "PaymentDifference",
           "PaymentNotification", "PointNotice", "Posting", "QuarantineEntry", "Reading", "Refund", "RevokedToken",
           "SchedulerInstance", "StatementCheck", "StripeEvent", "Tariff", "UsageSession", "User", "WaterCoefficient"]
