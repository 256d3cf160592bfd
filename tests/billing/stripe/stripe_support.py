"""Helpers for the Stripe tests: raw reads of localstripe, signed events, ledger sums."""
import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal

import httpx
from sqlmodel import Session, select

from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, LedgerAccount, Posting

SECRET_KEY = "sk_test_scanpower_localstripe"
WEBHOOK_SECRET = "whsec_test_scanpower_0123456789"


class StripeApi:
    """Read localstripe's objects as raw JSON, independently of the code under test."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, auth=(SECRET_KEY, ""), timeout=10)

    def raw(self, path: str, **params) -> bytes:
        answer = self.http.get(path, params=params)
        answer.raise_for_status()
        return answer.content

    def get(self, path: str, **params) -> dict:
        return json.loads(self.raw(path, **params))

    def intent(self, payment_intent_id: str) -> dict:
        return self.get(f"/v1/payment_intents/{payment_intent_id}")

    def charge_of(self, payment_intent_id: str) -> dict:
        charge = self.intent(payment_intent_id)["latest_charge"]
        return self.get(f"/v1/charges/{charge if isinstance(charge, str) else charge['id']}")

    def listing(self, path: str, **params) -> list[dict]:
        """Every item of a list, page after page (localstripe keeps all objects of the run)."""
        items, after = [], {}
        while True:
            page = self.get(path, limit=100, **params, **after)
            items += page["data"]
            if not page["has_more"]:
                return items
            after = {"starting_after": page["data"][-1]["id"]}

    def refunds(self, payment_intent_id: str) -> list[dict]:
        return self.listing("/v1/refunds", payment_intent=payment_intent_id)

    def event_for(self, object_id: str, event_type: str) -> bytes:
        """The event localstripe recorded for the object, byte for byte as Stripe would send it."""
        found = [e for e in self.listing("/v1/events", type=event_type) if e["data"]["object"]["id"] == object_id]
        assert len(found) == 1, f"expected one {event_type} for {object_id}, found {len(found)}"
        return self.raw(f"/v1/events/{found[0]['id']}")


def made_event(event_type: str, obj: dict) -> bytes:
    """An event of a type localstripe never sends (it has no charge.refunded, for one)."""
    return json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": event_type,
                       "created": int(time.time()), "data": {"object": obj}}).encode()


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header, made the way Stripe makes it."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def entries(db: Session, kind: str) -> list[JournalEntry]:
    db.expire_all()
    return list(db.exec(select(JournalEntry).where(JournalEntry.kind == kind)))


def balance_of(db: Session, code: str) -> Decimal:
    db.expire_all()
    found = ledger.find_account(db, code)
    return ledger.balance(db, found) if found is not None else Decimal("0.00")


def postings_of_kind(db: Session, kind: str, account_code: str) -> Decimal:
    """The sum of one account's postings in entries of one kind."""
    rows = db.exec(select(Posting.amount).join(JournalEntry, Posting.entry_id == JournalEntry.id)
                   .join(LedgerAccount, Posting.account_id == LedgerAccount.id)
                   .where(JournalEntry.kind == kind, LedgerAccount.code == account_code))
    return sum(rows, Decimal("0.00"))
