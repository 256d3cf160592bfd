"""Fixtures of the reconciliation tests; the helpers live in scene.py."""
import pytest

from tests.backend.reconciliation.scene import Scene, make_scene


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch):
    """These tests sign in with tokens, never passwords; hashing is slow on purpose, so skip it here."""
    monkeypatch.setattr("backend.users.service.hash_password", lambda password: "not-a-usable-hash")


@pytest.fixture
def scene(db) -> Scene:
    return make_scene(db)
