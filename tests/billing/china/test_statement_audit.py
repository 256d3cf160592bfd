"""An operator's reconciliation of a past day through the API is in the audit log; the scheduled one is not."""
from datetime import timedelta

from sqlmodel import Session

from backend.audit.service import entries
from backend.core.clock import local_today
from backend.payments.statements import reconcile_yesterday
from backend.users.models import Role
from tests import factories


def test_an_operators_reconciliation_is_audited_and_the_scheduled_one_is_not(shop):
    yesterday = local_today() - timedelta(days=1)
    shop.wechat.bill(f"{yesterday}")
    with Session(shop.engine, expire_on_commit=False) as db:
        operator = factories.user(db, Role.operator)
        db.commit()

    shop.run(lambda db: reconcile_yesterday(db, shop.providers))
    answer = shop.post(f"/payments/statements/wechat/{yesterday}", shop.token(operator))

    assert answer.status_code == 201, answer.text
    with Session(shop.engine) as db:
        [entry] = entries(db)
    assert (entry.actor_id, entry.action, entry.target_type, entry.note) == (operator.id, "payments.reconcile",
                                                                            "statement", f"wechat {yesterday}")
    assert '"differences": 0' in entry.before and '"lines": 0' in entry.after
