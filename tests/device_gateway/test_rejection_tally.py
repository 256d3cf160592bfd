"""Rejected messages counted in memory: one entry per source and kind, two capped samples, bounded keys."""
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from backend.meters.models import SAMPLE_CHARS, RejectionKind
from backend.meters.quarantine import OVERFLOW_SOURCE
from device_gateway.rejection_tally import RejectionTally

T0 = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
BAD = RejectionKind.bad_message


def test_counts_per_source_and_kind_keep_the_first_and_the_latest_sample():
    tally = RejectionTally()
    assert tally.add("SP1", BAD, "t/SP1/telemetry", "no JSON", b"first", T0)
    assert not tally.add("SP1", BAD, "t/SP1/telemetry", "no JSON", b"second", T0 + timedelta(seconds=1))
    assert not tally.add("SP1", BAD, "t/SP1/ack", "missing cmd_id", b"third", T0 + timedelta(seconds=2))
    assert tally.add("SP1", RejectionKind.rate_limited, "t/SP1/telemetry", "over", b"x", T0)
    counts = {c.key: c for c in tally.drain()}
    bad = counts[("SP1", BAD)]
    assert (bad.count, bad.first.payload, bad.last.payload, bad.last.reason) == (3, "first", "third", "missing cmd_id")
    assert bad.first.at == T0 and bad.last.topic == "t/SP1/ack"
    assert counts[("SP1", RejectionKind.rate_limited)].count == 1
    assert tally.drain() == [] and tally.messages == 0


def test_samples_are_cut_and_nul_is_escaped():
    tally = RejectionTally()
    tally.add("SP1", BAD, "t", "bad \x00 reason", b"\x00" + b"x" * 10_000, T0)
    [count] = tally.drain()
    assert len(count.first.payload) <= SAMPLE_CHARS and count.first.payload.startswith("\\0x")
    assert "\x00" not in count.first.reason + count.last.payload


def test_a_batch_the_database_refused_is_put_back_ahead_of_what_came_since():
    tally = RejectionTally()
    tally.add("SP1", BAD, "t", "r", b"old", T0)
    refused = tally.drain()
    tally.add("SP1", BAD, "t", "r", b"new", T0 + timedelta(seconds=5))
    tally.restore(refused)
    [count] = tally.drain()
    assert (count.count, count.first.payload, count.last.payload) == (2, "old", "new")


@given(st.lists(st.integers(0, 30), max_size=300))
def test_keys_are_bounded_and_no_message_goes_uncounted(sources):
    tally = RejectionTally(max_keys=8)
    for source in sources:
        tally.add(f"SP{source}", BAD, "t", "r", b"p", T0)
    counts = tally.drain()
    assert len(counts) <= 9
    assert sum(c.count for c in counts) == len(sources)
    if len(set(sources)) <= 8:
        assert {c.source: c.count for c in counts} == {f"SP{s}": sources.count(s) for s in set(sources)}
    else:
        assert OVERFLOW_SOURCE in {c.source for c in counts}
