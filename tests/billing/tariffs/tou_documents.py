"""Tariff documents for the tariff tests, built from the Jiangsu seed."""
import copy
import json
from decimal import Decimal
from importlib.resources import files

from billing.tariffs import Tariff, load_tariff

_JIANGSU = json.loads((files("billing.tariffs") / "data" / "jiangsu_commercial_tou_2025.json").read_text("utf-8"),
                      parse_float=Decimal)


def jiangsu_document() -> dict:
    """A fresh copy of the Jiangsu seed document, to change in a test."""
    return copy.deepcopy(_JIANGSU)


def repriced_jiangsu() -> Tariff:
    """Jiangsu with a second version from 2025-07-01 whose flat price is 0.7000."""
    document = jiangsu_document()
    later = copy.deepcopy(document["versions"][0])
    later.update(label="2025-07-01", effective_from="2025-07-01")
    later["time_of_use"]["flat_price_per_kwh"] = Decimal("0.7000")
    document["versions"].append(later)
    return load_tariff(document)
