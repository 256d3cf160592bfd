"""A local WeChat Pay v3 that speaks its HTTP API: it checks our signed requests with the merchant's public key,
signs its answers and notifications with the platform key, and encrypts resources with the APIv3 key.

`pay`, `confirm_payscore`, `collect_payscore` and `finish_refund` play the payer's phone and WeChat's own
back office; each returns the notification WeChat would send, for the test to deliver (or not). With
`open_cashier()`, the h5_url it hands out is its own page, where a browser pays: then it posts the notification
to the order's notify_url itself and sends the browser back to the merchant's redirect_url, as WeChat does.
"""
import base64
import gzip
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from urllib.error import URLError
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.core.clock import LOCAL_TZ
from tests.billing.fakes.keys import KeyPair, certificate_pem
from tests.billing.fakes.server import FakeServer

MCHID, APPID, SERVICE_ID = "1900000109", "wxd678efh567hg6787", "500001"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
CASHIER = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>微信支付</title></head>
<body style="font-family: sans-serif; text-align: center; padding: 24px"><h1>微信支付</h1><p>{description}</p>
<p style="font-size: 2rem" data-fen="{fen}">¥{yuan}</p><form method="post" action="/h5pay">
<input type="hidden" name="prepay_id" value="{prepay}"><input type="hidden" name="redirect_url" value="{back}">
<button type="submit" style="font-size: 1.2rem; padding: 12px 32px">确认支付</button></form></body></html>"""


@dataclass(frozen=True)
class Delivery:
    """A notification as WeChat would POST it."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Trade:
    out_trade_no: str
    total: int
    notify_url: str
    description: str
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refunded: int = 0


@dataclass
class ScoreOrder:
    out_order_no: str
    risk: int
    notify_url: str
    state: str = "CREATED"
    total: int = 0
    transaction_id: str | None = None


@dataclass
class RefundRecord:
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    amount: int
    total: int
    notify_url: str
    status: str = "PROCESSING"
    refund_id: str = field(default_factory=lambda: f"50{secrets.randbelow(10**28):028d}")


class FakeWeChatPay:
    def __init__(self, use_public_key: bool = True):
        self.merchant = KeyPair()  # our API key: the fake knows its public half
        self.platform = KeyPair()  # WeChat's: signs answers and notifications
        self.apiv3_key = secrets.token_hex(16)  # 32 characters
        self.platform_serial = secrets.randbits(60) | 1 << 60
        self.certificate = self.platform.certificate(self.platform_serial)
        self.public_key_id = "PUB_KEY_ID_0114232134912410000000000000"
        self.use_public_key = use_public_key
        self.trades: dict[str, Trade] = {}
        self.scores: dict[str, ScoreOrder] = {}
        self.refunds: dict[str, RefundRecord] = {}
        self.refusing_refunds_of: set[str] = set()  # out_trade_nos whose refunds WeChat refuses at once
        self.refunds_succeed_at_once = False
        self.bills: dict[str, bytes] = {}
        self.prepays: dict[str, str] = {}  # prepay_id -> out_trade_no
        self.h5_base = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb"
        self.lock = threading.RLock()
        self.server = FakeServer(self._route)

    def open_cashier(self) -> None:
        """Hand out h5_urls to this server's own cashier page, for a real browser to pay on."""
        self.h5_base = f"{self.url}/h5pay"

    # ---- what the provider under test is configured with

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def serial(self) -> str:
        return self.public_key_id if self.use_public_key else format(self.platform_serial, "X")

    # ---- the payer's phone and WeChat's back office

    def pay(self, out_trade_no: str, amount: int | None = None) -> Delivery:
        with self.lock:
            trade = self.trades[out_trade_no]
            trade.state, trade.transaction_id = "SUCCESS", f"42000{secrets.randbelow(10**23):023d}"
            trade.success_time = _now()
        resource = self._transaction(trade) | ({"amount": {"total": amount, "payer_total": amount, "currency": "CNY",
                                                           "payer_currency": "CNY"}} if amount else {})
        return self.notification("TRANSACTION.SUCCESS", "transaction", resource, trade.notify_url)

    def close_trade(self, out_trade_no: str) -> None:
        with self.lock:
            self.trades[out_trade_no].state = "CLOSED"

    def confirm_payscore(self, out_order_no: str) -> Delivery:
        with self.lock:
            order = self.scores[out_order_no]
            order.state = "DOING"
        return self.notification("PAYSCORE.USER_CONFIRM", "payscore", self._score(order), order.notify_url)

    def collect_payscore(self, out_order_no: str) -> Delivery:
        """WeChat takes the completed amount from the payer (USER_PAID)."""
        with self.lock:
            order = self.scores[out_order_no]
            assert order.state == "DOING" and order.total, "complete the order before collecting it"
            order.state, order.transaction_id = "DONE", f"42001{secrets.randbelow(10**23):023d}"
            self.trades[out_order_no] = Trade(out_order_no, order.total, order.notify_url, "支付分", "SUCCESS",
                                              order.transaction_id, _now())
        return self.notification("PAYSCORE.USER_PAID", "payscore", self._score(order), order.notify_url)

    def finish_refund(self, out_refund_no: str, succeeded: bool = True) -> Delivery:
        with self.lock:
            record = self.refunds[out_refund_no]
            record.status = "SUCCESS" if succeeded else "ABNORMAL"
            if not succeeded:
                self.trades[record.out_trade_no].refunded -= record.amount
        event = "REFUND.SUCCESS" if succeeded else "REFUND.ABNORMAL"
        return self.notification(event, "refund", self._refund(record), record.notify_url)

    def notification(self, event: str, kind: str, resource: dict, notify_url: str = "",
                     at: int | None = None) -> Delivery:
        nonce, associated = secrets.token_hex(6), kind
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(),
                                                             associated.encode())
        body = json.dumps({"id": str(uuid.uuid4()), "create_time": _now(), "resource_type": "encrypt-resource",
                           "event_type": event, "summary": event,
                           "resource": {"original_type": kind, "algorithm": "AEAD_AES_256_GCM",
                                        "ciphertext": base64.b64encode(ciphertext).decode(),
                                        "associated_data": associated, "nonce": nonce}}).encode()
        return Delivery(self._signed_headers(body.decode(), at), body)

    def bill(self, day: str, extra_lines: list[str] = ()) -> None:
        """Publish the trade bill of a day (YYYY-MM-DD) from what happened here, as WeChat does at 10:00 next day."""
        rows = ["交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,"
                "交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,"
                "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
                "手续费,费率,订单金额,申请退款金额,费率备注"]
        with self.lock:
            for trade in self.trades.values():
                if trade.transaction_id and trade.success_time[:10] == day:
                    rows.append(bill_row(trade.success_time, trade.transaction_id, trade.out_trade_no, "SUCCESS",
                                          trade.total, "", "", 0, ""))
            for record in self.refunds.values():
                if record.status == "SUCCESS":
                    rows.append(bill_row(day + " 12:00:00", record.transaction_id, record.out_trade_no, "REFUND",
                                          0, record.refund_id, record.out_refund_no, record.amount, "SUCCESS"))
        rows += list(extra_lines)
        rows += ["总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
                 f"`{len(rows) - 1},`0.00,`0.00,`0.00,`0.00,`0.00,`0.00"]
        self.bills[day] = gzip.compress(("\n".join(rows) + "\n").encode("utf-8"))

    def stop(self) -> None:
        self.server.stop()

    # ---- the HTTP API

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes):
        if path.startswith("/h5pay"):
            return self._cashier(method, path, body)
        if path.startswith("/v3/billdownload/"):
            token = parse_qs(urlsplit(path).query)["token"][0]
            return 200, {"Content-Type": "application/octet-stream"}, self.bills[token]
        if not self._authorized(method, path, headers, body):
            return self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        data = json.loads(body) if body else {}
        with self.lock:
            return self._dispatch(method, urlsplit(path), data)

    def _dispatch(self, method: str, url, data: dict):
        path, query = url.path, parse_qs(url.query)
        if method == "POST" and path in ("/v3/pay/transactions/jsapi", "/v3/pay/transactions/h5"):
            return self._create(path.rsplit("/", 1)[1], data)
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", path):
            trade = self.trades.get(match[1])
            return self._answer(200, self._transaction(trade)) if trade else self._not_found()
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", path):
            if match[1] in self.trades and self.trades[match[1]].state == "NOTPAY":
                self.trades[match[1]].state = "CLOSED"
            return self._answer(204, None)
        if method == "POST" and path == "/v3/refund/domestic/refunds":
            return self._refund_create(data)
        if match := re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path):
            record = self.refunds.get(match[1])
            return self._answer(200, self._refund(record)) if record else self._not_found()
        if path == "/v3/certificates":
            return self._certificates()
        if method == "POST" and path == "/v3/payscore/serviceorder":
            return self._score_create(data)
        if match := re.fullmatch(r"/v3/payscore/serviceorder/([^/]+)/(complete|cancel)", path):
            return self._score_change(match[1], match[2], data)
        if path == "/v3/payscore/serviceorder":
            order = self.scores.get(query["out_order_no"][0])
            return self._answer(200, self._score(order)) if order else self._not_found()
        if path == "/v3/bill/tradebill":
            day = query["bill_date"][0]
            if day not in self.bills:
                return self._answer(400, {"code": "NO_STATEMENT_EXIST", "message": "账单不存在"})
            content = self.bills[day]
            return self._answer(200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(content).hexdigest(),
                                      "download_url": f"{self.url}/v3/billdownload/file?token={day}"})
        return self._answer(404, {"code": "NOT_FOUND", "message": path})

    def _create(self, kind: str, data: dict):
        number = data["out_trade_no"]
        trade = self.trades.get(number)
        if trade is not None and trade.state == "SUCCESS":
            return self._answer(400, {"code": "ORDERPAID", "message": "该订单已支付"})
        if trade is not None and trade.total != data["amount"]["total"]:
            return self._answer(400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"})
        if trade is None:
            self.trades[number] = Trade(number, data["amount"]["total"], data["notify_url"], data["description"])
        prepay = "wx" + hashlib.sha256(number.encode()).hexdigest()[:30]
        self.prepays[prepay] = number
        if kind == "jsapi":
            return self._answer(200, {"prepay_id": prepay})
        return self._answer(200, {"h5_url": f"{self.h5_base}?prepay_id={prepay}"})

    def _cashier(self, method: str, path: str, body: bytes):
        """WeChat's H5 cashier in a phone's browser: the order and a pay button; paying notifies, then goes back."""
        fields = {k: v[0] for k, v in parse_qs(urlsplit(path).query or body.decode()).items()}
        with self.lock:
            number = self.prepays.get(fields.get("prepay_id", ""))
            trade = self.trades.get(number) if number else None
        if trade is None:
            return 404, {"Content-Type": "text/plain; charset=utf-8"}, "订单不存在".encode()
        if method == "POST":
            _post(trade.notify_url, self.pay(number))
            return 303, {"Location": fields.get("redirect_url") or "about:blank"}, b""
        page = CASHIER.format(description=escape(trade.description), fen=trade.total,
                              yuan=f"{trade.total // 100}.{trade.total % 100:02d}",
                              prepay=escape(fields["prepay_id"]), back=escape(fields.get("redirect_url", "")))
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    def _refund_create(self, data: dict):
        number = data["out_refund_no"]
        if number in self.refunds:
            return self._answer(200, self._refund(self.refunds[number]))
        trade = self._trade_of(data)
        if trade is None or trade.state != "SUCCESS":
            return self._answer(400, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在或未支付"})
        amount = data["amount"]
        if trade.out_trade_no in self.refusing_refunds_of:
            return self._answer(403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足"})
        if amount["total"] != trade.total or trade.refunded + amount["refund"] > trade.total:
            return self._answer(400, {"code": "INVALID_REQUEST", "message": "退款金额超过订单可退金额"})
        trade.refunded += amount["refund"]
        record = RefundRecord(number, trade.out_trade_no, trade.transaction_id, amount["refund"], trade.total,
                              data.get("notify_url", trade.notify_url))
        if self.refunds_succeed_at_once:
            record.status = "SUCCESS"
        self.refunds[number] = record
        return self._answer(200, self._refund(record))

    def _trade_of(self, data: dict) -> Trade | None:
        if data.get("out_trade_no"):
            return self.trades.get(data["out_trade_no"])
        return next((t for t in self.trades.values() if t.transaction_id == data.get("transaction_id")), None)

    def _score_create(self, data: dict):
        number = data["out_order_no"]
        if number not in self.scores:
            self.scores[number] = ScoreOrder(number, data["risk_fund"]["amount"], data["notify_url"])
        return self._answer(200, self._score(self.scores[number]) | {"package": f"DJIOSQPYWDxsa{number}"})

    def _score_change(self, number: str, action: str, data: dict):
        order = self.scores.get(number)
        if order is None:
            return self._not_found()
        if action == "cancel":
            if order.state == "DONE":
                return self._answer(400, {"code": "INVALID_REQUEST", "message": "订单已完结"})
            order.state = "REVOKED"
        else:
            if data["total_amount"] > order.risk or order.state != "DOING":
                return self._answer(400, {"code": "INVALID_REQUEST", "message": "金额超过风险金或订单未确认"})
            order.total = data["total_amount"]
        return self._answer(200, self._score(order))

    def _certificates(self):
        nonce = secrets.token_hex(6)
        cipher = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), certificate_pem(self.certificate).encode(),
                                                         b"certificate")
        return self._answer(200, {"data": [{
            "serial_no": format(self.platform_serial, "X"), "effective_time": "2020-01-01T00:00:00+08:00",
            "expire_time": "2099-01-01T00:00:00+08:00",
            "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate",
                                    "ciphertext": base64.b64encode(cipher).decode()}}]})

    # ---- shapes

    def _transaction(self, trade: Trade) -> dict:
        found = {"appid": APPID, "mchid": MCHID, "out_trade_no": trade.out_trade_no, "trade_state": trade.state,
                 "trade_state_desc": trade.state, "amount": {"total": trade.total, "payer_total": trade.total,
                                                             "currency": "CNY", "payer_currency": "CNY"}}
        if trade.transaction_id:
            found |= {"transaction_id": trade.transaction_id, "success_time": trade.success_time,
                      "trade_type": "JSAPI", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}
        return found

    def _score(self, order: ScoreOrder) -> dict:
        found = {"appid": APPID, "mchid": MCHID, "service_id": SERVICE_ID, "out_order_no": order.out_order_no,
                 "state": order.state, "order_id": f"1000{hash(order.out_order_no) % 10**12:012d}",
                 "risk_fund": {"name": "ESTIMATE_ORDER_COST", "amount": order.risk}, "total_amount": order.total}
        if order.total:
            collected = order.state == "DONE"
            found["collection"] = {"state": "USER_PAID" if collected else "USER_PAYING",
                                   "total_amount": order.total, "paying_amount": 0 if collected else order.total,
                                   "paid_amount": order.total if collected else 0,
                                   "details": [{"seq": 1, "amount": order.total, "paid_type": "NEWTON",
                                                "transaction_id": order.transaction_id}] if collected else []}
        return found

    def _refund(self, record: RefundRecord) -> dict:
        return {"refund_id": record.refund_id, "out_refund_no": record.out_refund_no,
                "transaction_id": record.transaction_id, "out_trade_no": record.out_trade_no,
                "status": record.status, "refund_status": record.status, "create_time": _now(),
                "amount": {"refund": record.amount, "total": record.total, "payer_total": record.total,
                           "payer_refund": record.amount, "currency": "CNY"}}

    def _not_found(self):
        return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    def _answer(self, status: int, payload: dict | None):
        text = json.dumps(payload, ensure_ascii=False) if payload is not None else ""
        headers = self._signed_headers(text) if status < 300 else {}
        return status, {"Content-Type": "application/json; charset=utf-8", **headers}, text.encode()

    def _signed_headers(self, text: str, at: int | None = None) -> dict[str, str]:
        stamp, nonce = str(at if at is not None else int(time.time())), secrets.token_hex(16)
        message = f"{stamp}\n{nonce}\n{text}\n".encode()
        signature = self.platform.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": self.serial,
                "Wechatpay-Signature": base64.b64encode(signature).decode(),
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}

    def _authorized(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        """The merchant's Authorization header, checked as WeChat checks it."""
        found = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', found))
        if not found.startswith("WECHATPAY2-SHA256-RSA2048 ") or fields.get("mchid") != MCHID:
            return False
        message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body.decode()}\n".encode()
        try:
            self.merchant.public.verify(base64.b64decode(fields["signature"]), message, padding.PKCS1v15(),
                                        hashes.SHA256())
        except (InvalidSignature, KeyError, ValueError):
            return False
        return fields.get("serial_no") == MERCHANT_SERIAL


def _now() -> str:
    return datetime.now(LOCAL_TZ).isoformat(timespec="seconds")


def _post(url: str, delivery: Delivery) -> None:
    """Deliver a notification as WeChat does; an unreachable merchant is left to its query fallback."""
    request = urllib.request.Request(url, data=delivery.body, method="POST",
                                     headers=delivery.headers | {"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except (URLError, OSError):
        pass


def bill_row(when: str, transaction: str, trade: str, state: str, total: int, refund_id: str, refund_no: str,
              refund: int, refund_state: str) -> str:
    moment = when[:19].replace("T", " ")
    cells = [moment, APPID, MCHID, "0", "", transaction, trade, "oUpF8u", "JSAPI", state, "OTHERS", "CNY",
             f"{total / 100:.2f}", "0.00", refund_id, refund_no, f"{refund / 100:.2f}", "0.00", "ORIGINAL" if refund
             else "", refund_state, "扫码用电", "", "0.00", "0.60%", f"{total / 100:.2f}", f"{refund / 100:.2f}", ""]
    return ",".join(f"`{cell}" for cell in cells)
