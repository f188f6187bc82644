"""Helpers for the hardening tests (issue 14): parallel requests through threads, each with its
own test client and so its own application context, session and database connection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest

from tests.conftest import PG_URL

needs_postgresql = pytest.mark.skipif(
    not PG_URL, reason="the race needs concurrent transactions: SQLite's BEGIN IMMEDIATE already runs "
                       "writers one at a time, so it cannot happen there (run with TEST_DATABASE_URL)")


def in_parallel(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call at once (released together by a barrier) and return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=60)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


class Counter:
    """A thread-safe count of calls to a wrapped function."""

    def __init__(self, wrapped: Callable) -> None:
        self.wrapped = wrapped
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.count += 1
        return self.wrapped(*args, **kwargs)
