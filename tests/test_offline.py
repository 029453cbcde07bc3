"""The suite runs offline: nothing it imports phones home from a background thread."""

from __future__ import annotations


def test_haystack_telemetry_is_off_in_the_suite():
    # tests/conftest.py turns it off before haystack is imported: its posthog thread would
    # otherwise open sockets (and retry DNS) while file-handle tests count the process's fds.
    from haystack.telemetry import _telemetry

    assert _telemetry.telemetry is None
