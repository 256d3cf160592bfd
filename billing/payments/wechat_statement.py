"""WeChat Pay's trade bill (交易账单, type ALL) read as statement lines: pure text in, values out.

Each data line is comma-separated with every field prefixed by a backtick; the file ends with a
summary header (总交易单数…) and its line. Amounts are yuan with two decimals.
"""
import csv
import io
from datetime import datetime
from decimal import Decimal

from backend.core.clock import LOCAL_TZ
from billing.payments.interface import StatementKind, StatementLine, to_fen

COLUMNS = ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额", "商户退款单号", "退款金额", "退款状态")


def read_trade_bill(text: str) -> list[StatementLine]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        return []
    header = [name.strip() for name in rows[0]]
    at = {name: header.index(name) for name in COLUMNS}
    lines = []
    for row in rows[1:]:
        if not row or row[0].startswith("总") or not row[0].startswith("`"):
            break  # the summary follows the transactions
        field = {name: row[index].lstrip("`").strip() for name, index in at.items()}
        lines.append(_line(field))
    return lines


def _line(field: dict[str, str]) -> StatementLine:
    when = datetime.strptime(field["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=LOCAL_TZ)
    if field["交易状态"] == "REFUND":
        return StatementLine(StatementKind.refund, field["商户退款单号"], field["微信订单号"],
                             to_fen(Decimal(field["退款金额"])), when)
    return StatementLine(StatementKind.payment, field["商户订单号"], field["微信订单号"],
                         to_fen(Decimal(field["应结订单金额"])), when)
