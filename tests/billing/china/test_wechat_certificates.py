"""WeChat Pay's platform certificates: fetched, decrypted with the APIv3 key, kept, and fetched again on rotation."""
import pytest

from backend.core.clock import utcnow
from billing.payments.interface import NotificationKind, Order, OrderState, PaymentServiceUnavailable
from tests.billing.fakes.configured import wechat_provider
from tests.billing.fakes.keys import KeyPair, certificate_pem
from tests.billing.fakes.wechat import FakeWeChatPay


def test_a_rotated_platform_certificate_is_fetched_decrypted_kept_and_trusted(tmp_path):
    fake = FakeWeChatPay(use_public_key=False)
    try:
        retired = KeyPair()  # the certificate the merchant kept from before the rotation
        (tmp_path / "1A2B.pem").write_text(certificate_pem(retired.certificate(0x1A2B)))
        provider = wechat_provider(fake, payscore=False, public_key=None, public_key_id=None, cert_dir=str(tmp_path))

        checkout = provider.pay(Order(f"spt{utcnow():%Y%m%d}certtest0001", 1, 500, "top-up", "top_up"), "k")
        delivery = fake.pay(checkout.external_id)
        note = provider.parse_notification({k.lower(): v for k, v in delivery.headers.items()}, delivery.body)

        assert checkout.state is OrderState.pending  # its answer verified with the certificate just fetched
        assert ("GET", "/v3/certificates") in fake.server.requests
        assert (tmp_path / f"{format(fake.platform_serial, 'X')}.pem").read_text() == \
            certificate_pem(fake.certificate)
        assert note.kind is NotificationKind.paid
    finally:
        fake.stop()


def test_an_answer_signed_with_an_untrusted_key_is_not_believed(tmp_path):
    fake = FakeWeChatPay(use_public_key=True)
    try:
        stranger = KeyPair()
        provider = wechat_provider(fake, payscore=False, public_key=stranger.public_pem)
        with pytest.raises(PaymentServiceUnavailable, match="verify the signature"):
            provider.pay(Order(f"spt{utcnow():%Y%m%d}untrusted001", 1, 500, "top-up", "top_up"), "k")
    finally:
        fake.stop()
