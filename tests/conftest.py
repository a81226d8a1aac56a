"""Shared test settings: small, offline, isolated from the user's caches."""

import os

import pytest

os.environ.setdefault("GANBOOK_SCALE", "smoke")
os.environ.setdefault("GANBOOK_MNIST", "sample")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session trains into its own model cache, never the user's."""
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    monkeypatch.setenv("GANBOOK_CACHE", str(cache))
    return cache
