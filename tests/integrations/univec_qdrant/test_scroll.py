"""Scrolling a collection page by page: the loop both Qdrant engines share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from univec_qdrant import _schema
from univec_qdrant._schema import scroll_records


def _points(start: int, stop: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=i, payload={"document_id": i}) for i in range(start, stop)]


@pytest.fixture
def pages(monkeypatch):
    """A 25-point collection served 10 points a page; records each request."""
    monkeypatch.setattr(_schema, "SCROLL_PAGE", 10)
    requests: list[tuple[object, int]] = []

    def fetch(offset, page):
        requests.append((offset, page))
        start = offset or 0
        stop = min(start + page, 25)
        return _points(start, stop), (stop if stop < 25 else None)

    return fetch, requests


def test_all_pages_until_the_engine_says_done(pages):
    fetch, requests = pages
    records = scroll_records(fetch, None)
    assert [r.point_id for r in records] == [str(i) for i in range(25)]
    assert requests == [(None, 10), (10, 10), (20, 10)]


def test_a_limit_asks_only_for_what_is_missing(pages):
    fetch, requests = pages
    records = scroll_records(fetch, 13)
    assert len(records) == 13
    assert requests == [(None, 10), (10, 3)]


def test_an_empty_page_ends_the_scroll():
    calls = []

    def fetch(offset, page):
        calls.append(offset)
        return [], "next"  # an offset, but nothing on the page

    assert scroll_records(fetch, None) == []
    assert calls == [None]
