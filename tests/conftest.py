"""Shared fixtures: a fresh database per test and an MQTT broker.

With DATABASE_URL / MQTT_URL set (CI), tests use that PostgreSQL server and broker;
without them, a SQLite file and an in-process broker. Either way nothing is skipped.
"""
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from backend.core.config import Settings
from backend.core.db import make_engine
from backend.core.migrate import upgrade
from device_gateway.embedded_broker import EmbeddedBroker, free_port

EXTERNAL_DB = os.environ.get("DATABASE_URL", "")
EXTERNAL_BROKER = os.environ.get("MQTT_URL", "")


class _PostgresDatabases:
    """Migrate once into a template database, then clone it per test (fast and isolated)."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.template = f"sp_tmpl_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{self.template}"')
        upgrade(self.url.set(database=self.template).render_as_string(hide_password=False))

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(sql))

    def new(self) -> str:
        name = f"sp_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        self.drop(self.url.set(database=self.template).render_as_string(hide_password=False))
        self.admin.dispose()


class _SqliteDatabases:
    def __init__(self, folder: Path):
        self.folder = folder
        self.template = folder / "template.db"
        upgrade(f"sqlite:///{self.template}")

    def new(self) -> str:
        path = self.folder / f"{uuid.uuid4().hex[:12]}.db"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def _databases(tmp_path_factory):
    databases = _PostgresDatabases(EXTERNAL_DB) if EXTERNAL_DB else _SqliteDatabases(tmp_path_factory.mktemp("db"))
    yield databases
    databases.close()


@pytest.fixture
def database_url(_databases):
    url = _databases.new()
    yield url
    _databases.drop(url)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def broker_url():
    if EXTERNAL_BROKER:
        yield EXTERNAL_BROKER
        return
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    yield broker.url
    broker.stop()


@pytest.fixture
def settings(database_url, broker_url, tmp_path) -> Settings:
    """Settings isolated per test: own database, own topic prefix and client ids on a shared broker."""
    run = uuid.uuid4().hex[:8]
    port = free_port()
    return Settings(database_url=database_url, mqtt_url=broker_url, mqtt_topic_prefix=f"sptest-{run}/v1",
                    gateway_client_id=f"gw-{run}", http_port=port, public_base_url=f"http://127.0.0.1:{port}",
                    secret_key=f"test-secret-{run}-0123456789abcdef", command_timeout_seconds=10)


FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def figure_lines(request) -> list[str]:
    """Lines of measured figures, printed together at the end of the run (docs/security.md quotes them)."""
    return request.config.stash.setdefault(FIGURES, [])


@pytest.fixture
def figures(request, figure_lines):
    """Record a line of this test's measured figures."""
    return lambda text: figure_lines.append(f"{request.node.nodeid}: {text}")


def pytest_terminal_summary(terminalreporter, config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section(f"figures ({'PostgreSQL' if EXTERNAL_DB else 'SQLite'})")
        for line in lines:
            terminalreporter.write_line(line)
