"""The audit chain's canonical text and hash: one fixed form, the same on every database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from decisionflow import audit

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A known vector, checked outside Python with `printf '%s' '<text>' | sha256sum`. If this
# test fails, every chain already written would fail verification: do not "fix" the vector.
KNOWN_EVENT = {
    "seq": 1,
    "occurred_at": datetime(2026, 3, 2, 9, 0, 0, 1234, tzinfo=SHANGHAI),
    "actor_id": 3,
    "actor_username": "staff_a",
    "actor_role": "staff",
    "actor_department": "housing",
    "action": "record:proposal",
    "outcome": "done",
    "decision_id": None,
    "state_before": "proposed",
    "state_after": "proposed",
    "payload_digest": "4192c1336346d1ea551fee88ba5b71a07f99ce9f8b55c5cd57b9ea9c98b87342",
    "detail": '{"record_id":5,"version":2}',
    "origin": 'web "表单"',
    "prev_hash": audit.GENESIS_HASH,
}
KNOWN_PAYLOAD = {"problem": "征收补偿标准\n多年未调整", "n": 37}
KNOWN_TEXT = (
    '[1,"2026-03-02 01:00:00.001234",3,"staff_a","staff","housing","record:proposal","done",'
    'null,"proposed","proposed",'
    '"4192c1336346d1ea551fee88ba5b71a07f99ce9f8b55c5cd57b9ea9c98b87342",'
    '"{\\"record_id\\":5,\\"version\\":2}","web \\"表单\\"",'
    '"0000000000000000000000000000000000000000000000000000000000000000"]'
)
KNOWN_HASH = "5151294db28f9b3436e7e636fadd31df17f0800673e9a4a2a7d22c2448405824"


def test_known_event_has_its_known_text_and_hash():
    """An event's canonical text and hash are exactly the published vector."""
    values = [KNOWN_EVENT[c] for c in audit.CHAINED_COLUMNS]
    assert audit.canonical_event(values) == KNOWN_TEXT
    assert hashlib.sha256(KNOWN_TEXT.encode("utf-8")).hexdigest() == KNOWN_HASH
    assert audit.event_hash(KNOWN_EVENT) == KNOWN_HASH


def test_payload_digest_of_known_payload():
    """A payload's digest is the SHA-256 of its sorted, unescaped, spaceless JSON."""
    assert audit.canonical_json(KNOWN_PAYLOAD) == '{"n":37,"problem":"征收补偿标准\\n多年未调整"}'
    assert audit.digest(KNOWN_PAYLOAD) == KNOWN_EVENT["payload_digest"]


def test_time_is_hashed_as_utc_text_as_databases_store_it():
    """The same instant hashes the same in any zone, as stored text or as a datetime."""
    in_utc = {**KNOWN_EVENT, "occurred_at": datetime(2026, 3, 2, 1, 0, 0, 1234, tzinfo=UTC)}
    as_text = {**KNOWN_EVENT, "occurred_at": "2026-03-02 01:00:00.001234"}
    assert audit.event_hash(in_utc) == audit.event_hash(as_text) == KNOWN_HASH
    # a whole second still carries its six zeros, as SQLite stores it
    assert (
        audit.chain_time(datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)) == "2026-03-02 01:00:00.000000"
    )


def test_every_chained_column_changes_the_hash():
    """Changing any one chained column, even by a character, gives another hash."""
    for column in audit.CHAINED_COLUMNS:
        value = KNOWN_EVENT[column]
        if isinstance(value, datetime):
            changed = {**KNOWN_EVENT, column: value.replace(microsecond=value.microsecond + 1)}
        elif isinstance(value, int):
            changed = {**KNOWN_EVENT, column: value + 1}
        elif value is None:
            changed = {**KNOWN_EVENT, column: 0}
        else:
            changed = {**KNOWN_EVENT, column: value[:-1] + ("x" if value[-1] != "x" else "y")}
        assert audit.event_hash(changed) != KNOWN_HASH, column


def test_fields_cannot_be_shifted_from_one_column_to_the_next():
    """Moving text across a column boundary changes the text hashed (no ambiguous joins)."""
    shifted = {**KNOWN_EVENT, "actor_role": "staffhousing", "actor_department": ""}
    assert audit.event_hash(shifted) != KNOWN_HASH
    none_vs_text = {**KNOWN_EVENT, "decision_id": "null"}
    assert audit.event_hash(none_vs_text) != KNOWN_HASH


def test_canonical_json_sorts_keys_and_writes_dates_in_iso_form():
    """Detail and payloads serialise the same whatever order their keys were built in."""
    first = {"b": [1, 2], "a": {"y": date(2026, 3, 2), "x": "意见"}}
    second = {"a": {"x": "意见", "y": date(2026, 3, 2)}, "b": [1, 2]}
    assert audit.canonical_json(first) == audit.canonical_json(second)
    assert audit.canonical_json(first) == '{"a":{"x":"意见","y":"2026-03-02"},"b":[1,2]}'
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)
    assert audit.canonical_json({"at": moment}) == '{"at":"2026-03-02T01:30:00.000000Z"}'


flat_values = st.one_of(
    st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=40)
)


@given(st.lists(flat_values, min_size=1, max_size=16))
def test_fast_encoder_writes_exactly_what_json_writes(values):
    """The quick path writes the very text the standard JSON encoder writes, for any values."""
    # column 1 is the time, which canonical_event formats unless it is already text
    values = [values[0], "2026-03-02 01:00:00.000000", *values[1:]]
    expected = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    assert audit.canonical_event(values) == expected
