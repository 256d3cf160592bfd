"""Load tariffs from JSON documents, and the seed tariffs shipped in billing/tariffs/data."""
import json
from collections.abc import Mapping
from decimal import Decimal
from importlib.resources import files

from pydantic import ValidationError

from billing.tariffs.tariff import Tariff

_DATA = files(__package__) / "data"


class InvalidTariff(ValueError):
    """A tariff document that does not describe a usable tariff; the message lists each problem."""


def load_tariff(document: Mapping) -> Tariff:
    """A tariff from a parsed JSON document (see docs/tariffs.md)."""
    try:
        return Tariff.model_validate(document)
    except ValidationError as error:
        raise InvalidTariff(_explain(error)) from None


def load_tariff_json(text: str) -> Tariff:
    """A tariff from JSON text; numbers are read as Decimal, never float."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidTariff(f"not JSON: {error}") from None
    return load_tariff(document)


def seed_tariff_names() -> list[str]:
    return sorted(entry.name.removesuffix(".json") for entry in _DATA.iterdir() if entry.name.endswith(".json"))


def load_seed_tariff(name: str) -> Tariff:
    """A seed tariff by file name without ".json", e.g. "jiangsu_commercial_tou_2025"."""
    if name not in seed_tariff_names():
        raise LookupError(f"no seed tariff {name!r}; there are {', '.join(seed_tariff_names())}")
    return load_tariff_json((_DATA / f"{name}.json").read_text(encoding="utf-8"))


def _explain(error: ValidationError) -> str:
    problems = [f"{'.'.join(map(str, item['loc'])) or 'tariff'}: {item['msg'].removeprefix('Value error, ')}"
                for item in error.errors()]
    return "invalid tariff:\n  " + "\n  ".join(problems)
