"""A local Alipay gateway that speaks its OpenAPI: it checks our RSA2-signed requests with the app's public key,
answers `{"<method>_response": {...}, "sign": ...}` signed with Alipay's key, and signs notifications the same way.

`open_pay_url`, `pay`, `open_freeze` and `confirm_freeze` play the payer's phone; each payment step returns
the notification Alipay would post, for the test to deliver (or not).
"""
import base64
import csv
import io
import json
import secrets
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from backend.core.clock import LOCAL_TZ
from tests.billing.fakes.keys import KeyPair
from tests.billing.fakes.server import FakeServer

APP_ID = "2021000117600000"
PAYER = "2088102177846875"


@dataclass
class AliTrade:
    out_trade_no: str
    total: Decimal
    notify_url: str
    status: str = "WAIT_BUYER_PAY"
    trade_no: str | None = None
    paid_at: str | None = None
    refunded: Decimal = Decimal("0.00")


@dataclass
class Freeze:
    out_order_no: str
    amount: Decimal
    notify_url: str
    status: str = "INIT"
    auth_no: str | None = None
    rest: Decimal = Decimal("0.00")


@dataclass
class AliRefund:
    out_request_no: str
    out_trade_no: str
    trade_no: str
    amount: Decimal
    at: str


class FakeAlipay:
    def __init__(self):
        self.app = KeyPair()  # ours: the fake knows its public half
        self.alipay = KeyPair()  # Alipay's: signs answers and notifications
        self.trades: dict[str, AliTrade] = {}
        self.freezes: dict[str, Freeze] = {}
        self.refunds: dict[str, AliRefund] = {}
        self.unfrozen: list[tuple[str, Decimal]] = []
        self.refusing_refunds_of: set[str] = set()
        self.bills: dict[str, bytes] = {}
        self.lock = threading.RLock()
        self.server = FakeServer(self._route)

    @property
    def gateway(self) -> str:
        return f"{self.server.url}/gateway.do"

    # ---- the payer's phone

    def open_pay_url(self, url: str) -> AliTrade:
        """The phone opens the WAP pay URL: Alipay checks our signature and shows the order."""
        params = dict(parse_qsl(urlsplit(url).query))
        assert self._verified(params), "the pay URL's signature does not verify"
        biz = json.loads(params["biz_content"])
        with self.lock:
            return self.trades.setdefault(biz["out_trade_no"], AliTrade(biz["out_trade_no"],
                                                                        Decimal(biz["total_amount"]),
                                                                        params["notify_url"]))

    def pay(self, out_trade_no: str) -> bytes:
        with self.lock:
            trade = self.trades[out_trade_no]
            trade.status, trade.trade_no, trade.paid_at = "TRADE_SUCCESS", _trade_no(), _now()
        return self.notification({"notify_type": "trade_status_sync", "trade_no": trade.trade_no,
                                  "out_trade_no": out_trade_no, "trade_status": "TRADE_SUCCESS",
                                  "total_amount": str(trade.total), "receipt_amount": str(trade.total),
                                  "gmt_payment": trade.paid_at, "buyer_id": PAYER})

    def open_freeze(self, order_str: str) -> Freeze:
        params = dict(parse_qsl(order_str))
        assert self._verified(params), "the freeze order string's signature does not verify"
        biz = json.loads(params["biz_content"])
        with self.lock:
            return self.freezes.setdefault(biz["out_order_no"], Freeze(biz["out_order_no"], Decimal(biz["amount"]),
                                                                       params["notify_url"]))

    def confirm_freeze(self, out_order_no: str) -> bytes:
        with self.lock:
            freeze = self.freezes[out_order_no]
            freeze.status, freeze.auth_no, freeze.rest = "SUCCESS", _trade_no(), freeze.amount
        return self.notification({"notify_type": "fund_auth_freeze", "auth_no": freeze.auth_no,
                                  "out_order_no": out_order_no, "out_request_no": f"{out_order_no}f",
                                  "operation_type": "FREEZE", "amount": str(freeze.amount), "status": "SUCCESS",
                                  "payer_user_id": PAYER, "gmt_trans": _now()})

    def notification(self, fields: dict[str, str], app_id: str = APP_ID) -> bytes:
        fields = {"notify_time": _now(), "notify_id": secrets.token_hex(16), "app_id": app_id, "charset": "utf-8",
                  "version": "1.0"} | fields
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return urlencode(fields | {"sign_type": "RSA2", "sign": self._sign(unsigned)}).encode()

    def bill(self, day: str) -> None:
        """Publish the day's trade bill (a zip of GBK CSV) from what happened here."""
        out = io.StringIO()
        out.write("#支付宝业务明细查询\n#账号：[20881234567890120156]\n")
        writer = csv.writer(out)
        writer.writerow(["支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间",
                         "门店编号", "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）",
                         "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
                         "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
                         "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注"])
        with self.lock:
            for trade in self.trades.values():
                if trade.paid_at and trade.paid_at[:10] == day:
                    writer.writerow([trade.trade_no, trade.out_trade_no, "交易", "扫码用电", trade.paid_at,
                                     trade.paid_at, "", "", "", "", "buyer", f"{trade.total}", f"{trade.total}"]
                                    + ["0.00"] * 8
                                    + ["", "0.00", "0.00", ""])
            for found in self.refunds.values():
                if found.at[:10] == day:
                    writer.writerow([found.trade_no, found.out_trade_no, "退款", "扫码用电", found.at, found.at,
                                     "", "", "", "", "buyer", f"-{found.amount}", f"-{found.amount}"]
                                    + ["0.00"] * 8
                                    + [found.out_request_no, "0.00", "0.00", ""])
        out.write("#-----------------------------------------业务明细列表结束------------------------------------\n")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr(f"20881234567890120156_{day.replace('-', '')}_业务明细.csv", out.getvalue().encode("gbk"))
            zipped.writestr(f"20881234567890120156_{day.replace('-', '')}_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
        self.bills[day] = archive.getvalue()

    def stop(self) -> None:
        self.server.stop()

    # ---- the gateway

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes):
        url = urlsplit(path)
        if url.path.startswith("/bill/"):
            return 200, {"Content-Type": "application/zip"}, self.bills[url.path.removeprefix("/bill/")]
        params = dict(parse_qsl(url.query or body.decode()))
        method_name = params.get("method", "")
        response_key = method_name.replace(".", "_") + "_response"
        if not self._verified(params) or params.get("app_id") != APP_ID:
            return self._error(response_key, {"code": "40002", "msg": "Invalid Arguments",
                                              "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"})
        biz = json.loads(params.get("biz_content") or "{}")
        handler = getattr(self, "_" + method_name.replace(".", "_"), None)
        if handler is None:
            return self._error(response_key, {"code": "40004", "msg": "Business Failed",
                                              "sub_code": "isv.missing-method"})
        with self.lock:
            return self._answer(response_key, handler(biz))

    def _alipay_trade_query(self, biz: dict) -> dict:
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            return _failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return _ok({"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no or "", "trade_status": trade.status,
                    "total_amount": str(trade.total), "buyer_user_id": PAYER})

    def _alipay_trade_close(self, biz: dict) -> dict:
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            return _failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status == "WAIT_BUYER_PAY":
            trade.status = "TRADE_CLOSED"
        return _ok({"out_trade_no": trade.out_trade_no})

    def _alipay_trade_refund(self, biz: dict) -> dict:
        number, amount = biz["out_request_no"], Decimal(biz["refund_amount"])
        trade = self.trades.get(biz["out_trade_no"])
        if number in self.refunds:
            return _ok({"out_trade_no": biz["out_trade_no"], "trade_no": trade.trade_no, "fund_change": "N",
                        "refund_fee": str(trade.refunded)})
        if trade is None or trade.status not in ("TRADE_SUCCESS",):
            return _failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        if trade.out_trade_no in self.refusing_refunds_of:
            return _failed("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
        if trade.refunded + amount > trade.total:
            return _failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        trade.refunded += amount
        self.refunds[number] = AliRefund(number, trade.out_trade_no, trade.trade_no, amount, _now())
        return _ok({"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no, "fund_change": "Y",
                    "refund_fee": str(trade.refunded), "buyer_user_id": PAYER})

    def _alipay_trade_fastpay_refund_query(self, biz: dict) -> dict:
        found = self.refunds.get(biz["out_request_no"])
        if found is None:
            return _ok({"out_trade_no": biz["out_trade_no"], "out_request_no": biz["out_request_no"]})
        return _ok({"out_trade_no": found.out_trade_no, "out_request_no": found.out_request_no,
                    "refund_amount": str(found.amount), "refund_status": "REFUND_SUCCESS"})

    def _alipay_trade_pay(self, biz: dict) -> dict:
        freeze = next((f for f in self.freezes.values() if f.auth_no == biz.get("auth_no")), None)
        amount = Decimal(biz["total_amount"])
        if freeze is None or freeze.status != "SUCCESS" or amount > freeze.rest or biz.get("buyer_id") != PAYER:
            return _failed("ACQ.PAYMENT_AUTH_CODE_INVALID", "授权不存在或金额超限")
        number = biz["out_trade_no"]
        if number not in self.trades:
            freeze.rest -= amount
            self.trades[number] = AliTrade(number, amount, "", "TRADE_SUCCESS", _trade_no(), _now())
        trade = self.trades[number]
        return _ok({"out_trade_no": number, "trade_no": trade.trade_no, "total_amount": str(trade.total),
                    "buyer_user_id": PAYER})

    def _alipay_fund_auth_order_unfreeze(self, biz: dict) -> dict:
        freeze = next((f for f in self.freezes.values() if f.auth_no == biz["auth_no"]), None)
        amount = Decimal(biz["amount"])
        if freeze is None or amount > freeze.rest:
            return _failed("UNFREEZE_AMOUNT_LESS_THAN_REST", "解冻金额超过剩余冻结金额")
        freeze.rest -= amount
        self.unfrozen.append((freeze.out_order_no, amount))
        return _ok({"auth_no": freeze.auth_no, "amount": str(amount), "status": "SUCCESS"})

    def _alipay_fund_auth_operation_detail_query(self, biz: dict) -> dict:
        freeze = self.freezes.get(biz["out_order_no"])
        if freeze is None:
            return _failed("ORDER_NOT_EXIST", "订单不存在")
        return _ok({"auth_no": freeze.auth_no or "", "out_order_no": freeze.out_order_no, "status": freeze.status,
                    "amount": str(freeze.amount), "rest_amount": str(freeze.rest), "payer_user_id": PAYER})

    def _alipay_fund_auth_operation_cancel(self, biz: dict) -> dict:
        freeze = self.freezes.get(biz["out_order_no"])
        if freeze is not None and freeze.status == "INIT":
            freeze.status = "CLOSED"
        return _ok({"out_order_no": biz["out_order_no"], "action": "close"})

    def _alipay_data_dataservice_bill_downloadurl_query(self, biz: dict) -> dict:
        day = biz["bill_date"]
        if day not in self.bills:
            return _failed("isp.bill_not_exist", "账单不存在")
        return _ok({"bill_download_url": f"{self.server.url}/bill/{day}"})

    def _answer(self, key: str, payload: dict):
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{key}":{inner},"sign":"{self._sign(inner)}"}}'
        return 200, {"Content-Type": "application/json; charset=utf-8"}, body.encode()

    def _error(self, key: str, payload: dict):
        body = json.dumps({key: payload}, ensure_ascii=False)  # Alipay does not sign this kind of refusal
        return 200, {"Content-Type": "application/json; charset=utf-8"}, body.encode()

    def _sign(self, text: str) -> str:
        return base64.b64encode(self.alipay.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    def _verified(self, params: dict[str, str]) -> bool:
        """Our request's sign, checked as Alipay does: every other field, sorted, `k=v` joined by `&`."""
        signature = params.get("sign", "")
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
        try:
            self.app.public.verify(base64.b64decode(signature), unsigned.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True


def _ok(fields: dict) -> dict:
    return {"code": "10000", "msg": "Success"} | fields


def _failed(sub_code: str, sub_msg: str) -> dict:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}


def _trade_no() -> str:
    return f"2026{secrets.randbelow(10**24):024d}"


def _now() -> str:
    return datetime.now(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
