"""Alipay through `python-alipay-sdk` (RSA2): WAP/page payment, 资金预授权 holds, refunds, notifications, bills.

Requests are signed with the app's private key; every answer and notification is verified with
Alipay's public key. A hold is a freeze (alipay.fund.auth.order.app.freeze) the payer confirms in
Alipay; settling pays the actual amount out of it (alipay.trade.pay with its auth_no) and unfreezes
the rest (alipay.fund.auth.order.unfreeze).
"""
import csv
import io
import json
import logging
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from urllib.error import URLError
from urllib.parse import parse_qsl
from urllib.request import urlopen

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from backend.core.clock import LOCAL_TZ
from billing.payments import orders
from billing.payments.interface import (BadSignature, Capabilities, Checkout, HoldRef, Notification,
                                        NotificationKind, Order, OrderState, OrderStatus, PaidRef,
                                        PaymentServiceUnavailable, RefundResult, RefundState, StatementKind,
                                        StatementLine, from_fen, to_fen)

log = logging.getLogger(__name__)
SUCCESS = "10000"
ORDER_TIMEOUT = "30m"
TRADE_STATES = {"WAIT_BUYER_PAY": OrderState.pending, "TRADE_SUCCESS": OrderState.paid,
                "TRADE_FINISHED": OrderState.paid, "TRADE_CLOSED": OrderState.closed}
CAPTURE_SUFFIX = "p"  # the trade that pays a hold's actual amount is the hold's number plus this


class AlipayProvider:
    """Alipay for one app (商户应用); 资金预授权 holds when the merchant has signed for them."""

    name = "alipay"

    def __init__(self, app_id: str, app_private_key: str, alipay_public_key: str, notify_url: str,
                 return_url: str = "", *, preauth: bool = False, gateway: str = "", timeout: int = 15):
        self.client = AliPay(appid=app_id, app_notify_url=notify_url, app_private_key_string=app_private_key,
                             alipay_public_key_string=alipay_public_key, sign_type="RSA2",
                             config=AliPayConfig(timeout=timeout))
        if gateway:  # the SDK knows Alipay's production and sandbox gateways; a test server stands in here
            self.client._gateway = gateway
        self.app_id, self.notify_url, self.return_url, self.timeout = app_id, notify_url, return_url, timeout
        self.capabilities = Capabilities(instant=False, hold=preauth, refund=True, statement=True)

    def pay(self, order: Order, idempotency_key: str) -> Checkout:
        """A signed pay URL for the phone's browser (WAP) and one for a computer (page); no request is made."""
        fields = dict(subject=order.description[:256], out_trade_no=order.out_trade_no,
                      total_amount=str(from_fen(order.amount_fen)),
                      return_url=order.payer.return_url or self.return_url,
                      notify_url=self.notify_url, timeout_express=ORDER_TIMEOUT, passback_params=order.purpose)
        wap = self.client.api_alipay_trade_wap_pay(**fields)
        page = self.client.api_alipay_trade_page_pay(**fields)
        gateway = self.client._gateway
        return Checkout(order.out_trade_no, OrderState.pending,
                        params={"pay_url": f"{gateway}?{wap}", "page_pay_url": f"{gateway}?{page}"})

    def hold(self, order: Order, idempotency_key: str) -> Checkout:
        """The signed freeze order string the Alipay app confirms (my.tradePay({orderStr}))."""
        biz = {"out_order_no": order.out_trade_no, "out_request_no": f"{order.out_trade_no}f",
               "order_title": order.description[:100], "amount": str(from_fen(order.amount_fen)),
               "product_code": "PREAUTH_PAY", "timeout_express": ORDER_TIMEOUT}
        order_str = self.client.client_api("alipay.fund.auth.order.app.freeze", biz, notify_url=self.notify_url)
        return Checkout(order.out_trade_no, OrderState.pending, params={"order_str": order_str})

    def capture(self, hold: HoldRef, amount_fen: int) -> str | None:
        """Pay the actual amount out of the freeze."""
        payer = self._freeze(hold.external_id).get("payer_user_id")
        answer = self._server("pay out of the freeze", "alipay.trade.pay", {
            "out_trade_no": f"{hold.external_id}{CAPTURE_SUFFIX}", "product_code": "PREAUTH_PAY",
            "auth_no": hold.transaction_id, "subject": "扫码用电", "total_amount": str(from_fen(amount_fen)),
            "buyer_id": payer, "auth_confirm_mode": "NOT_COMPLETE"})
        _expect(answer, "pay out of the freeze")
        return answer.get("trade_no")

    def release(self, hold: HoldRef, amount_fen: int, captured_fen: int) -> None:
        """Unfreeze what the session did not use (all of it when nothing was paid)."""
        answer = self._server("unfreeze the rest", "alipay.fund.auth.order.unfreeze", {
            "auth_no": hold.transaction_id, "out_request_no": f"{hold.external_id}u",
            "amount": str(from_fen(amount_fen)), "remark": "扫码用电 未用部分解冻"})
        _expect(answer, "unfreeze the rest")

    def refund(self, paid: PaidRef, sequence: int, amount_fen: int, reason: str) -> RefundResult:
        number = orders.refund_no(paid.external_id, sequence, amount_fen)
        try:
            answer = self._server("make the refund", "alipay.trade.refund", {
                "out_trade_no": _trade_of(paid.external_id), "refund_amount": str(from_fen(amount_fen)),
                "out_request_no": number, "refund_reason": reason[:256]})
        except PaymentServiceUnavailable as error:
            return RefundResult(number, amount_fen, RefundState.pending, reason=str(error))
        if answer.get("code") != SUCCESS:
            return RefundResult(number, amount_fen, RefundState.failed, reason=_words(answer))
        return RefundResult(number, amount_fen, RefundState.succeeded, answer.get("trade_no"))

    def query(self, external_id: str, purpose: str) -> OrderStatus:
        if external_id.startswith(orders.HOLD):
            found = self._freeze(external_id)
            if found.get("code") != SUCCESS or found.get("status") in ("CLOSED", None):
                return OrderStatus(OrderState.closed if found.get("status") == "CLOSED" else OrderState.pending)
            state = OrderState.held if found["status"] == "SUCCESS" else OrderState.pending
            return OrderStatus(state, found.get("auth_no"), to_fen(Decimal(found.get("amount", "0"))))
        answer = self._server("look up the order", "alipay.trade.query", {"out_trade_no": external_id})
        if answer.get("code") != SUCCESS:  # ACQ.TRADE_NOT_EXIST: the payer has not opened the pay page
            return OrderStatus(OrderState.pending)
        state = TRADE_STATES.get(answer.get("trade_status"), OrderState.pending)
        return OrderStatus(state, answer.get("trade_no") or None, to_fen(Decimal(answer["total_amount"])))

    def query_refund(self, paid: PaidRef, refund_id: str) -> RefundResult:
        answer = self._server("look up the refund", "alipay.trade.fastpay.refund.query",
                              {"out_trade_no": _trade_of(paid.external_id), "out_request_no": refund_id})
        if answer.get("code") == SUCCESS and answer.get("refund_status") == "REFUND_SUCCESS":
            return RefundResult(refund_id, to_fen(Decimal(answer["refund_amount"])), RefundState.succeeded)
        return RefundResult(refund_id, 0, RefundState.failed, reason="Alipay has no such refund")

    def close(self, external_id: str, purpose: str) -> None:
        if external_id.startswith(orders.HOLD):
            self._server("cancel the freeze", "alipay.fund.auth.operation.cancel",
                         {"out_order_no": external_id, "out_request_no": f"{external_id}f", "remark": "未确认"})
        else:
            self._server("close the order", "alipay.trade.close", {"out_trade_no": external_id})

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """A form post signed with Alipay's key (RSA2 over the sorted fields without sign and sign_type)."""
        fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        signature = fields.pop("sign", "")
        if not signature or fields.get("app_id") != self.app_id or not fields.get("notify_id"):
            raise BadSignature("the notification is unsigned, for another app, or has no notify_id")
        try:
            verified = self.client.verify(dict(fields), signature)
        except (AliPayException, ValueError, TypeError) as error:
            raise BadSignature(f"the notification could not be verified: {error}") from None
        if not verified:
            raise BadSignature("the notification's signature does not verify with Alipay's public key")
        return _notification(fields)

    def statement(self, day: date) -> list[StatementLine]:
        """The day's trade bill: a zip holding the 业务明细 CSV (GBK)."""
        answer = self._server("ask for the bill", "alipay.data.dataservice.bill.downloadurl.query",
                              {"bill_type": "trade", "bill_date": f"{day:%Y-%m-%d}"})
        if answer.get("code") != SUCCESS:
            if "BILL_NOT_EXIST" in answer.get("sub_code", "").upper():  # Alipay says isp.bill_not_exist
                return []
            raise PaymentServiceUnavailable(f"Alipay could not give the bill: {_words(answer)}")
        try:
            content = urlopen(answer["bill_download_url"], timeout=self.timeout).read()
        except (URLError, TimeoutError) as error:
            raise PaymentServiceUnavailable(f"Alipay's bill could not be downloaded: {error}") from error
        return read_trade_bill(content)

    def _freeze(self, external_id: str) -> dict:
        return self._server("look up the freeze", "alipay.fund.auth.operation.detail.query",
                            {"out_order_no": external_id, "out_request_no": f"{external_id}f"})

    def _server(self, what: str, method: str, biz: dict) -> dict:
        """A signed request to the gateway; the answer, its signature verified. Business refusals are returned."""
        try:
            return self.client.server_api(method, biz)
        except AliPayValidationError as error:
            log.error("alipay answer to %s failed verification", method)
            raise PaymentServiceUnavailable(f"Alipay's answer could not be verified; could not {what}") from error
        except AliPayException as error:
            answer = _error_answer(error)
            if answer.get("code", "").startswith("2"):  # 20000/20001: the service itself is away
                raise PaymentServiceUnavailable(f"Alipay could not {what} just now: {_words(answer)}") from error
            return answer
        except (URLError, TimeoutError, OSError) as error:
            log.warning("alipay could not %s: %r", what, error)
            raise PaymentServiceUnavailable(f"Alipay could not {what} just now; nothing was booked, "
                                            f"try again in a moment") from error


def read_trade_bill(content: bytes) -> list[StatementLine]:
    """The transactions of Alipay's trade bill zip (业务明细, not the 汇总 summary)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        name = next(n for n in archive.namelist() if "汇总" not in n)
        text = archive.read(name).decode("gbk")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and not row[0].startswith("#")]
    header = [cell.strip() for cell in rows[0]]
    at = {name: header.index(name) for name in ("支付宝交易号", "商户订单号", "业务类型", "完成时间",
                                                "订单金额（元）", "退款批次号/请求号")}
    lines = []
    for row in rows[1:]:
        field = {name: row[index].strip() for name, index in at.items()}
        when = datetime.strptime(field["完成时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=LOCAL_TZ)
        amount = abs(to_fen(Decimal(field["订单金额（元）"])))
        if field["业务类型"] == "退款":
            lines.append(StatementLine(StatementKind.refund, field["退款批次号/请求号"], field["支付宝交易号"],
                                       amount, when))
        else:
            lines.append(StatementLine(StatementKind.payment, _ours(field["商户订单号"]), field["支付宝交易号"], amount,
                                       when))
    return lines


def _notification(fields: dict[str, str]) -> Notification:
    kind, external, transaction, amount, refund = NotificationKind.other, "", None, None, None
    if fields.get("notify_type") == "fund_auth_freeze" and fields.get("status") == "SUCCESS":
        kind, external = NotificationKind.held, fields.get("out_order_no", "")
        transaction, amount = fields.get("auth_no"), _fen(fields.get("amount"))
    elif fields.get("notify_type") == "trade_status_sync":
        external, transaction = _ours(fields.get("out_trade_no", "")), fields.get("trade_no")
        if fields.get("out_biz_no") and fields.get("refund_fee"):
            kind, refund, amount = NotificationKind.refund_succeeded, fields["out_biz_no"], _fen(fields["refund_fee"])
        elif fields.get("trade_status") in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            kind = NotificationKind.captured if external != fields.get("out_trade_no") else NotificationKind.paid
            amount = _fen(fields.get("total_amount"))
        elif fields.get("trade_status") == "TRADE_CLOSED":
            kind = NotificationKind.closed
    return Notification(fields["notify_id"], fields.get("notify_type", ""), kind, external, transaction, amount,
                        refund)


def _ours(out_trade_no: str) -> str:
    """The payment or hold a trade belongs to: a hold's capture trade carries the hold's number plus a suffix."""
    if out_trade_no.startswith(orders.HOLD) and out_trade_no.endswith(CAPTURE_SUFFIX):
        return out_trade_no[:-len(CAPTURE_SUFFIX)]
    return out_trade_no


def _trade_of(external_id: str) -> str:
    return f"{external_id}{CAPTURE_SUFFIX}" if external_id.startswith(orders.HOLD) else external_id


def _fen(value: str | None) -> int | None:
    return to_fen(Decimal(value)) if value else None


def _expect(answer: dict, what: str) -> None:
    if answer.get("code") != SUCCESS:
        raise PaymentServiceUnavailable(f"Alipay could not {what}: {_words(answer)}")


def _words(answer: dict) -> str:
    return f"{answer.get('sub_code') or answer.get('code', '')}: {answer.get('sub_msg') or answer.get('msg', '')}"


def _error_answer(error: AliPayException) -> dict:
    """The SDK raises on an unsigned error answer (its text kept in name-mangled fields); read code and message."""
    raw = getattr(error, "_AliPayException__message", "")
    try:
        found = json.loads(raw)
        return next(v for k, v in found.items() if k.endswith("_response"))
    except (ValueError, TypeError, StopIteration, AttributeError):
        return {"code": str(getattr(error, "_AliPayException__code", "0")), "msg": str(raw)[:200]}
