"""WeChat Pay v3 through `wechatpayv3`: JSAPI/H5 orders, 微信支付分 holds, refunds, notifications, the trade bill.

Every request is signed with the merchant's API key (the SDK's Authorization header) and every
answer's signature is checked against the platform certificate (downloaded and decrypted with the
APIv3 key) or the platform public key (微信支付公钥), whichever the merchant uses. Notifications are
checked the same way, then their resource is decrypted (AEAD_AES_256_GCM with the APIv3 key).
"""
import gzip
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from datetime import date, timedelta

import requests
from wechatpayv3 import SignType, WeChatPay, WeChatPayType

from backend.core.clock import LOCAL_TZ, utcnow
from billing.payments import orders
from billing.payments.interface import (BadSignature, Capabilities, Checkout, HoldRef, Notification,
                                        NotificationKind, Order, OrderState, OrderStatus, PaidRef,
                                        PaymentServiceUnavailable, RefundResult, RefundState, StatementLine)
from billing.payments.wechat_statement import read_trade_bill

log = logging.getLogger(__name__)
ORDER_MINUTES = 30  # an unpaid order expires at WeChat after this long
NOTIFICATION_TOLERANCE_S = 300  # an older signed timestamp is a replay
TRADE_STATES = {"SUCCESS": OrderState.paid, "REFUND": OrderState.paid, "NOTPAY": OrderState.pending,
                "USERPAYING": OrderState.pending, "CLOSED": OrderState.closed, "REVOKED": OrderState.closed,
                "PAYERROR": OrderState.failed}
REFUND_STATES = {"SUCCESS": RefundState.succeeded, "PROCESSING": RefundState.pending,
                 "CLOSED": RefundState.failed, "ABNORMAL": RefundState.failed}
EVENTS = {"TRANSACTION.SUCCESS": NotificationKind.paid, "REFUND.SUCCESS": NotificationKind.refund_succeeded,
          "REFUND.ABNORMAL": NotificationKind.refund_failed, "REFUND.CLOSED": NotificationKind.refund_failed,
          "PAYSCORE.USER_CONFIRM": NotificationKind.held, "PAYSCORE.USER_PAID": NotificationKind.captured}


class WeChatPayProvider:
    """WeChat Pay for a direct merchant (直连商户); 微信支付分 holds when the merchant has a service id."""

    name = "wechat"

    def __init__(self, mchid: str, appid: str, apiv3_key: str, private_key: str, cert_serial_no: str,
                 notify_url: str, *, public_key: str | None = None, public_key_id: str | None = None,
                 cert_dir: str | None = None, payscore_service_id: str = "", api_base: str = "",
                 timeout: tuple[float, float] = (5, 15)):
        self.client = WeChatPay(wechatpay_type=WeChatPayType.JSAPI, mchid=mchid, private_key=private_key,
                                cert_serial_no=cert_serial_no, appid=appid, apiv3_key=apiv3_key,
                                notify_url=notify_url, cert_dir=cert_dir, timeout=timeout,
                                public_key=public_key, public_key_id=public_key_id, logger=log)
        if api_base:  # the SDK fixes api.mch.weixin.qq.com; a test server stands in for it here
            self.client._core._gate_way = api_base.rstrip("/")
        self.appid, self.mchid, self.service_id = appid, mchid, payscore_service_id
        self.capabilities = Capabilities(instant=False, hold=bool(payscore_service_id), refund=True,
                                         statement=True)

    def pay(self, order: Order, idempotency_key: str) -> Checkout:
        """A JSAPI order inside WeChat (the payer's openid is known), else an H5 order in a phone browser."""
        common = dict(description=order.description[:127], out_trade_no=order.out_trade_no,
                      amount={"total": order.amount_fen, "currency": "CNY"}, attach=order.purpose,
                      time_expire=_rfc3339(ORDER_MINUTES))
        if order.payer.openid:
            code, body = self._call("open the order", self.client.pay, payer={"openid": order.payer.openid},
                                    pay_type=WeChatPayType.JSAPI, **common)
        else:
            scene = {"payer_client_ip": order.payer.client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
            code, body = self._call("open the order", self.client.pay, scene_info=scene,
                                    pay_type=WeChatPayType.H5, **common)
        if code >= 300:
            return Checkout(order.out_trade_no, OrderState.failed, reason=_message(body))
        answer = json.loads(body)
        params = self._jsapi_params(answer["prepay_id"]) if "prepay_id" in answer else {"h5_url": answer["h5_url"]}
        return Checkout(order.out_trade_no, OrderState.pending, params=params)

    def hold(self, order: Order, idempotency_key: str) -> Checkout:
        """A 微信支付分 order with the most the session may cost as its risk amount; the payer confirms it."""
        code, body = self._call("open the pay-after-use order", self.client.payscore_create,
                                out_order_no=order.out_trade_no, service_id=self.service_id,
                                service_introduction="扫码用电", time_range={"start_time": "OnAccept"},
                                risk_fund={"name": "ESTIMATE_ORDER_COST", "amount": order.amount_fen},
                                attach=order.purpose, need_user_confirm=True)
        if code >= 300:
            return Checkout(order.out_trade_no, OrderState.failed, reason=_message(body))
        package = json.loads(body)["package"]
        extra = {"mch_id": self.mchid, "package": package, "timestamp": str(int(time.time())),
                 "nonce_str": secrets.token_hex(16), "sign_type": "HMAC-SHA256"}
        extra["sign"] = self.client.sign(extra, SignType.HMAC_SHA256)
        return Checkout(order.out_trade_no, OrderState.pending, params={"business_type": "wxpayScoreUse", **extra})

    def capture(self, hold: HoldRef, amount_fen: int) -> str | None:
        """Complete the 支付分 order with the actual amount; WeChat collects it and says so in PAYSCORE.USER_PAID."""
        code, body = self._call("complete the pay-after-use order", self.client.payscore_complete,
                                out_order_no=hold.external_id, service_id=self.service_id,
                                post_payments=[{"name": "电费", "amount": amount_fen, "description": "扫码用电"}],
                                total_amount=amount_fen, time_range={"end_time": _now_compact()})
        _expect(code, body, "complete the pay-after-use order")
        return None

    def release(self, hold: HoldRef, amount_fen: int, captured_fen: int) -> None:
        if captured_fen:
            return  # completing with the actual amount charged only that: the rest was never taken
        code, body = self._call("cancel the pay-after-use order", self.client.payscore_cancel,
                                out_order_no=hold.external_id, service_id=self.service_id, reason="未用电")
        _expect(code, body, "cancel the pay-after-use order")

    def refund(self, paid: PaidRef, sequence: int, amount_fen: int, reason: str) -> RefundResult:
        number = orders.refund_no(paid.external_id, sequence, amount_fen)
        transaction = paid.transaction_id if paid.transaction_id != paid.external_id else None
        if transaction is None and paid.external_id.startswith(orders.HOLD):
            transaction = self.query(paid.external_id, "hold").transaction_id  # 支付分: refunds name the payment
        try:
            code, body = self._call("make the refund", self.client.refund, out_refund_no=number,
                                    amount={"refund": amount_fen, "total": paid.total_fen, "currency": "CNY"},
                                    transaction_id=transaction,
                                    out_trade_no=None if transaction else paid.external_id, reason=reason[:80])
        except PaymentServiceUnavailable as error:
            # The request may have reached WeChat: the refund is ours to ask about (by number) later.
            return RefundResult(number, amount_fen, RefundState.pending, reason=str(error))
        if code >= 500:
            return RefundResult(number, amount_fen, RefundState.pending, reason=_message(body))
        if code >= 300:
            return RefundResult(number, amount_fen, RefundState.failed, reason=_message(body))
        answer = json.loads(body)
        state = REFUND_STATES.get(answer["status"], RefundState.pending)
        return RefundResult(number, answer["amount"]["refund"], state, answer.get("refund_id"))

    def query(self, external_id: str, purpose: str) -> OrderStatus:
        if external_id.startswith(orders.HOLD):
            return self._query_payscore(external_id)
        code, body = self._call("look up the order", self.client.query, out_trade_no=external_id)
        if code == 404:
            return OrderStatus(OrderState.closed)
        _expect(code, body, "look up the order")
        answer = json.loads(body)
        return OrderStatus(TRADE_STATES.get(answer["trade_state"], OrderState.pending), answer.get("transaction_id"),
                           (answer.get("amount") or {}).get("total"))

    def query_refund(self, paid: PaidRef, refund_id: str) -> RefundResult:
        code, body = self._call("look up the refund", self.client.query_refund, out_refund_no=refund_id)
        if code == 404:
            return RefundResult(refund_id, 0, RefundState.failed, reason="WeChat Pay has no such refund")
        _expect(code, body, "look up the refund")
        answer = json.loads(body)
        return RefundResult(refund_id, answer["amount"]["refund"],
                            REFUND_STATES.get(answer["status"], RefundState.pending), answer.get("refund_id"),
                            answer["status"])

    def close(self, external_id: str, purpose: str) -> None:
        if external_id.startswith(orders.HOLD):
            code, body = self._call("cancel the pay-after-use order", self.client.payscore_cancel,
                                    out_order_no=external_id, service_id=self.service_id, reason="未确认")
        else:
            code, body = self._call("close the order", self.client.close, out_trade_no=external_id)
        _expect(code, body, "close the order")

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Signature checked on the raw body, timestamp within five minutes, resource decrypted."""
        stamp = headers.get("wechatpay-timestamp") or ""
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > NOTIFICATION_TOLERANCE_S:
            raise BadSignature("the notification's Wechatpay-Timestamp is missing or not within five minutes")
        canonical = {name: headers.get(name.lower(), "") for name in
                     ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial",
                      "Wechatpay-Signature-Type")}
        try:
            data = self.client.callback(canonical, body)
        except Exception as error:  # the SDK raises bare Exception for unknown algorithms and bad input
            raise BadSignature(f"the notification could not be verified: {error}") from None
        if not data:
            raise BadSignature("the notification's Wechatpay-Signature does not verify, or it cannot be decrypted")
        return _notification(data)

    def statement(self, day: date) -> list[StatementLine]:
        """The day's trade bill (交易账单, ALL): payments and refunds, checked against its SHA1."""
        code, body = self._call("fetch the trade bill", self.client.trade_bill, bill_date=f"{day:%Y-%m-%d}")
        if code == 400 and "NO_STATEMENT_EXIST" in str(body):
            return []
        _expect(code, body, "fetch the trade bill")
        answer = json.loads(body)
        code, content = self._call("download the trade bill", self.client.download_bill, url=answer["download_url"])
        _expect(code, content, "download the trade bill")
        if hashlib.sha1(content).hexdigest() != answer["hash_value"].lower():
            raise PaymentServiceUnavailable("the downloaded trade bill does not match its hash; try again")
        return read_trade_bill(gzip.decompress(content).decode("utf-8"))

    def _query_payscore(self, external_id: str) -> OrderStatus:
        code, body = self._call("look up the pay-after-use order", self.client.payscore_query,
                                service_id=self.service_id, out_order_no=external_id)
        if code == 404:
            return OrderStatus(OrderState.closed)
        _expect(code, body, "look up the pay-after-use order")
        answer = json.loads(body)
        return OrderStatus(*_payscore_state(answer))

    def _jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """What WeixinJSBridge.invoke('getBrandWCPayRequest', …) takes, signed with the merchant key."""
        stamp, nonce, package = str(int(time.time())), secrets.token_hex(16), f"prepay_id={prepay_id}"
        sign = self.client.sign([self.appid, stamp, nonce, package])
        return {"appId": self.appid, "timeStamp": stamp, "nonceStr": nonce, "package": package, "signType": "RSA",
                "paySign": sign, "prepay_id": prepay_id}

    def _call(self, what: str, method, **kwargs):
        try:
            return method(**kwargs)
        except requests.RequestException as error:
            log.warning("wechat pay could not %s: %r", what, error)
            raise PaymentServiceUnavailable(f"WeChat Pay could not {what} just now; nothing was booked, "
                                            f"try again in a moment") from error
        except Exception as error:  # the SDK's own failures, e.g. an answer whose signature does not verify
            log.error("wechat pay could not %s: %s", what, error)
            raise PaymentServiceUnavailable(f"WeChat Pay could not {what}: {error}") from error


def _notification(data: dict) -> Notification:
    event, resource = data.get("event_type", ""), data.get("resource") or {}
    kind = EVENTS.get(event, NotificationKind.other)
    if event.startswith("PAYSCORE."):
        state, transaction, amount = _payscore_state(resource)
        return Notification(data["id"], event, kind, resource.get("out_order_no", ""), transaction, amount)
    if event.startswith("REFUND."):
        return Notification(data["id"], event, kind, resource.get("out_trade_no", ""), resource.get("refund_id"),
                            (resource.get("amount") or {}).get("refund"), resource.get("out_refund_no"))
    if kind is NotificationKind.paid and resource.get("trade_state") != "SUCCESS":
        kind = NotificationKind.other
    return Notification(data["id"], event, kind, resource.get("out_trade_no", ""), resource.get("transaction_id"),
                        (resource.get("amount") or {}).get("total"))


def _payscore_state(order: dict) -> tuple[OrderState, str | None, int | None]:
    """A 支付分 order: CREATED (not confirmed), DOING (confirmed or completed), DONE (collected), REVOKED, EXPIRED."""
    collection = order.get("collection") or {}
    details = collection.get("details") or []
    transaction = details[0].get("transaction_id") if details else None
    state = order.get("state")
    if state == "CREATED":
        return OrderState.pending, None, None
    if state in ("REVOKED", "EXPIRED"):
        return OrderState.closed, None, None
    if state == "DONE" or collection.get("state") == "USER_PAID":
        return OrderState.captured, transaction, collection.get("paid_amount", order.get("total_amount"))
    return OrderState.held, None, (order.get("risk_fund") or {}).get("amount")


def _expect(code: int, body, what: str) -> None:
    if code >= 300:
        log.warning("wechat pay refused to %s: %s %s", what, code, body)
        raise PaymentServiceUnavailable(f"WeChat Pay could not {what}: {_message(body)}")


def _message(body) -> str:
    try:
        answer = json.loads(body)
        return f"{answer.get('code', '')}: {answer.get('message', '')}"
    except (ValueError, TypeError):
        return str(body)[:200]


def _rfc3339(minutes_ahead: int) -> str:
    moment = (utcnow() + timedelta(minutes=minutes_ahead)).astimezone(LOCAL_TZ)
    return moment.isoformat(timespec="seconds")


def _now_compact() -> str:
    return utcnow().astimezone(LOCAL_TZ).strftime("%Y%m%d%H%M%S")
