import re
from decimal import Decimal

import stripe

from billing.payments.holds import capture_hold, place_hold, release_hold
from billing.payments.refunds import refund
from billing.payments.service import top_up
from billing.payments.stripe_provider import StripeProvider
from tests.billing.stripe.stripe_support import SECRET_KEY, WEBHOOK_SECRET


class RecordingHttpClient(type(stripe.new_default_http_client())):
    """The SDK's own transport, noting each request's method, path and headers."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method, url, headers, *args, **kwargs):
        self.sent.append((method.upper(), url, dict(headers or {})))
        return super().request(method, url, headers, *args, **kwargs)


def test_every_stripe_write_carries_our_idempotency_key(db, vendor, localstripe_url):
    recorder = RecordingHttpClient()
    # No SDK retries: with retries on, the SDK would add keys of its own and hide a missing one.
    provider = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=localstripe_url, max_network_retries=0,
                              http_client=recorder)

    payment = top_up(db, vendor.id, Decimal("30.00"), provider)
    refund(db, payment, Decimal("1.00"), "test", provider)
    captured = place_hold(db, vendor.id, Decimal("50.00"), provider)
    capture_hold(db, captured, Decimal("12.34"), provider)
    released = place_hold(db, vendor.id, Decimal("50.00"), provider)
    release_hold(db, released, provider)

    writes = [(re.sub(r"^https?://[^/]+", "", url), headers.get("Idempotency-Key"))
              for method, url, headers in recorder.sent if method == "POST"]
    assert len(writes) == 6
    assert all(key for _, key in writes), writes
    by_path = dict(writes)
    assert by_path[f"/v1/payment_intents/{captured.payment_intent_id}/capture"] == \
        f"capture:{captured.payment_intent_id}"
    assert by_path[f"/v1/payment_intents/{released.payment_intent_id}/cancel"] == \
        f"cancel:{released.payment_intent_id}"
    assert by_path["/v1/refunds"] == f"refund:{payment.external_id}:1:100"
