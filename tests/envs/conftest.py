"""Fixtures of the environment tests.

``sync_free_check``: the :class:`SyncFreeCheck` class of ``sync_free.py`` (loaded by path: the
tests run with ``--import-mode=importlib``, which puts no test folder on ``sys.path``).
"""

import importlib.util
from pathlib import Path

import pytest


def _load_sync_free():
    spec = importlib.util.spec_from_file_location(
        "sync_free", Path(__file__).with_name("sync_free.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sync_free_check():
    """The :class:`SyncFreeCheck` dispatch mode (records aten ops, flags host-device syncs)."""
    return _load_sync_free().SyncFreeCheck
