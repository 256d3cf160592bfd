import pytest

from billing.tariffs import Tariff, load_seed_tariff
from tests.billing.tariffs.tou_documents import jiangsu_document, repriced_jiangsu


@pytest.fixture(scope="session")
def jiangsu() -> Tariff:
    return load_seed_tariff("jiangsu_commercial_tou_2025")


@pytest.fixture
def seed_document() -> dict:
    return jiangsu_document()


@pytest.fixture(scope="session")
def repriced() -> Tariff:
    return repriced_jiangsu()
