"""Schemathesis against the app's own OpenAPI document, signed in as each role: no server error, and every
answer — status code, content type, headers, body — is one the document declares.

Bounded and deterministic: a fixed seed, derandomized examples and a cap per operation, so CI sees the same
requests every run. Positive-data acceptance is not checked: some rules (a period ends after it starts, a
tariff document's versions) cannot be written in JSON Schema, so a schema-valid request may rightly get 422.
"""
import re
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlmodel import Session

from backend.app import create_app
from backend.core.clock import utcnow
from backend.core.config import Settings
from backend.core.db import make_engine
from backend.core.security import create_access_token
from backend.core.types import MAX_INTEGER
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.points.models import QR_TOKEN, Meter, Purpose
from backend.points.water import WaterCoefficientWrite, add_coefficient
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.tariffs.service import list_tariffs
from backend.users.models import Role
from billing.payments.providers import DemoProvider
from tests import factories

ROLES = (Role.operator, Role.applicant, Role.vendor)
EXAMPLES_PER_OPERATION = 25
CONFIG = schemathesis.Config.from_dict({
    "seed": 20261129,
    "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
    "phases": {"stateful": {"enabled": False}},
})


def _seed(db: Session) -> dict:
    """Rows for the generated ids to land on: points in each state, a running and a settled session."""
    operator = factories.user(db, Role.operator)
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    market, meter = factories.active_point(db, outlets=3)
    applicant = db.get(type(operator), market.applicant_id)
    well, _ = factories.active_point(db, applicant, outlets=1, purpose=Purpose.irrigation)
    add_coefficient(db, well, WaterCoefficientWrite(m3_per_kwh=Decimal("2.5"), effective_from=utcnow().date()))
    points.apply_for_point(db, applicant, factories.application(outlets=2))
    tokens = [o.qr_token for o in points.outlets_of_point(db, market.id)]
    settled = _session(db, vendor, meter, tokens[0], finish=True)
    running = _session(db, vendor, meter, tokens[1], finish=False)
    return {"users": {Role.operator: operator.id, Role.applicant: applicant.id, Role.vendor: vendor.id},
            "known": {"point_id": [market.id, well.id], "session_id": [settled, running], "token": tokens,
                      "tariff_id": [t.id for t in list_tariffs(db)]}}


def _session(db: Session, vendor, meter: Meter, token: str, finish: bool) -> int:
    session = sessions.start_session(db, vendor, token, Decimal("1.00"), 30)
    db.flush()
    started = utcnow() - timedelta(hours=1)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, started)
    if finish:
        sessions.request_stop(db, vendor, session.id, 30)
        meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 11_250, utcnow())
    return session.id


@pytest.fixture(scope="module")
def world(_databases):
    """One database and app for the whole run; each role's requests change it in turn."""
    url = _databases.new()
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        seeded = _seed(db)
        db.commit()
    settings = Settings(database_url=url, secret_key="schemathesis-secret-of-at-least-32-bytes")
    app = create_app(settings, engine, RecordingSink(), lambda: True, DemoProvider())
    tokens = {role: create_access_token(user, settings.jwt_secret(), 60) for role, user in seeded["users"].items()}
    KNOWN.update(seeded["known"])
    yield app, tokens
    engine.dispose()
    _databases.drop(url)


# The document is the same for every app; one without a database serves it at collection time.
_DOCUMENT_ONLY = create_app(Settings(secret_key="x" * 32), make_engine("sqlite://"), RecordingSink(), lambda: True)
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_ONLY, config=CONFIG)
KNOWN: dict[str, list] = {}  # filled by `world`: ids and QR tokens that exist


def _valid(name: str, value) -> bool:
    if name == "token":
        return isinstance(value, str) and re.fullmatch(QR_TOKEN, value) is not None
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_INTEGER


@schema.hook
def flatmap_path_parameters(context, parameters):
    """Half the cases use ids and QR tokens that exist, so they get past 404 to the routes' own work.

    Only a valid value is swapped for another valid one: an invalid case must stay invalid."""
    found = {name: st.sampled_from(KNOWN[name]) for name, value in (parameters or {}).items()
             if name in KNOWN and _valid(name, value)}
    if not found:
        return st.just(parameters)
    return st.one_of(st.just(parameters), st.fixed_dictionaries(found).map(lambda f: {**parameters, **f}))


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@schema.parametrize()
@settings(deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_answer_is_one_the_schema_declares(case, role, world, tally):
    app, tokens = world
    response = case.call_and_validate(app=app, headers={"Authorization": f"Bearer {tokens[role]}"},
                                      excluded_checks=[positive_data_acceptance])
    tally(role, case, response.status_code)


@pytest.fixture(scope="module")
def tally(figure_lines):
    """Count what the run sent, per role; the figures docs/security.md quotes are printed at the end of the run."""
    counts: dict[Role, Counter] = {role: Counter() for role in ROLES}
    operations: dict[Role, set] = {role: set() for role in ROLES}

    def count(role: Role, case, status: int) -> None:
        operations[role].add(case.operation.label)
        mode = case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE
        counts[role].update(["cases", mode.value, "5xx" if status >= 500 else "answered"])
    began = time.monotonic()
    yield count
    took = time.monotonic() - began
    for role in ROLES:
        c = counts[role]
        figure_lines.append(f"schemathesis as {role.value}: {len(operations[role])} operations, {c['cases']:,} cases "
                     f"({c['positive']:,} valid, {c['negative']:,} invalid), {c['5xx']} server errors")
    total = sum((c for c in counts.values()), Counter())
    figure_lines.append(f"schemathesis: {sum(len(o) for o in operations.values())} operation × role items, "
                        f"{total['cases']:,} cases ({total['positive']:,} valid, {total['negative']:,} invalid), "
                        f"{took:.0f} s")

