"""What the API says about payments: the vendor's choice, what the phone needs to pay, orders, refunds, statements."""
from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from billing.payments.models import MAX_TOP_UP
from billing.payments.providers import PayWith
from backend.core.types import exact_decimal

OPENID = r"^[A-Za-z0-9_-]{1,128}$"


class PayerFields(SQLModel):
    provider: PayWith | None = Field(default=None, description="card (Stripe), wechat (微信支付) or alipay (支付宝); "
                                                               "absent: the installation's default")
    openid: str | None = Field(default=None, schema_extra={"pattern": OPENID},
                               description="WeChat Pay inside WeChat: the payer's openid for a JSAPI payment; "
                                           "absent: an H5 payment in the phone's browser")


class TopUpRequest(PayerFields):
    amount: exact_decimal(gt=0, le=MAX_TOP_UP, places=2)


class PaymentRequestPublic(SQLModel):
    """An order the payer confirms in WeChat or Alipay; it completes when the provider notifies us."""

    order_no: str = Field(description="Our out_trade_no: GET /api/v1/payments/{order_no} follows it")
    provider: str
    purpose: str = Field(description="top_up, session (paid ahead; the unused part goes back at once) "
                                     "or hold (支付分 / 资金预授权: only the bill is charged)")
    amount: Decimal
    status: str
    pay_params: dict[str, str] = Field(description="What the phone needs: WeChat JSAPI (appId, timeStamp, nonceStr, "
                                                   "package, signType, paySign) or h5_url; 支付分 package for "
                                                   "openBusinessView; Alipay pay_url / page_pay_url, or order_str "
                                                   "for a freeze")


class RefundPublic(SQLModel):
    refund_no: str
    provider: str
    payment: str = Field(description="The payment it goes back to")
    amount: Decimal
    status: str = Field(description="pending (the provider reports later), succeeded, or failed "
                                    "(the money stayed in the wallet)")
    reason: str


class WithdrawalPublic(SQLModel):
    balance: Decimal
    currency: str = "CNY"
    sent: Decimal = Field(description="What went back, or is on its way back, to the original payments")
    refunds: list[RefundPublic]


class PaymentOrderPublic(SQLModel):
    order_no: str
    provider: str
    purpose: str
    amount: Decimal
    status: str = Field(description="pending, succeeded, failed or closed (payments); pending, authorized, captured, "
                                    "released… (holds)")
    session_id: int | None
    reason: str | None = Field(description="Why it failed, or why its session never ran (its money went back)")
    refunds: list[RefundPublic]
    created_at: datetime


class StatementCheckPublic(SQLModel):
    provider: str
    day: date
    lines: int
    matched: int
    differences: int
    checked_at: datetime


class DifferencePublic(SQLModel):
    provider: str
    day: date
    kind: str = Field(description="missing_in_books, missing_at_provider or amount_differs")
    reference: str
    provider_amount: Decimal | None
    book_amount: Decimal | None
    detail: str


class ReconciliationPublic(SQLModel):
    checks: list[StatementCheckPublic]
    differences: list[DifferencePublic]
