"""The authentication-failure tracker: sliding window, bounded memory, addresses grouped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.clock import ManualClock
from shared.http.throttle import AuthFailureTracker, ThrottlePolicy, peer_key

POLICY = ThrottlePolicy(
    max_failures=2, window=timedelta(seconds=10), block=timedelta(seconds=30), max_peers=3
)


def tracker() -> tuple[AuthFailureTracker, ManualClock]:
    clock = ManualClock(datetime(2027, 1, 4, tzinfo=UTC))
    return AuthFailureTracker(POLICY, clock), clock


def test_one_failure_more_than_the_limit_within_the_window_blocks() -> None:
    failures, clock = tracker()
    for _ in range(2):
        failures.record_failure("a")
    assert failures.retry_after("a") is None
    clock.advance(timedelta(seconds=10))
    failures.record_failure("a")
    assert failures.retry_after("a") == 30
    assert failures.retry_after("b") is None
    clock.advance(timedelta(seconds=30))
    assert failures.retry_after("a") is None
    failures.record_failure("a")  # the count started again when the block did
    assert failures.retry_after("a") is None


def test_memory_is_bounded_by_forgetting_the_least_recent_peer() -> None:
    failures, _ = tracker()
    for peer in ("a", "b", "c"):
        failures.record_failure(peer)
    failures.record_failure("a")  # a is recent again
    failures.record_failure("d")
    assert len(failures) == 3
    for _ in range(2):
        failures.record_failure("b")  # b was forgotten: it starts from one
    assert failures.retry_after("b") is None
    for _ in range(2):
        failures.record_failure("a")
    assert failures.retry_after("a") is not None


def test_addresses_are_grouped_as_one_host_holds_them() -> None:
    def key(host: str) -> str:
        return peer_key({"client": (host, 1234)})

    assert key("192.0.2.7") == "192.0.2.7"
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert key("::ffff:192.0.2.7") == "192.0.2.7"
    assert peer_key({}) == "(unknown)"
