import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.apiserver import canonical_duration, duration_nanoseconds, format_duration


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("60s", "1m0s"),
        ("1m", "1m0s"),
        ("90m", "1h30m0s"),
        ("1.5h", "1h30m0s"),
        ("1h30m", "1h30m0s"),
        ("2160h", "2160h0m0s"),
        ("500ms", "500ms"),
        ("1500ms", "1.5s"),
        ("1us", "1µs"),
        ("1µs", "1µs"),
        ("0", "0s"),
        ("-2m", "-2m0s"),
        ("+3s", "3s"),
        ("2h45m30.5s", "2h45m30.5s"),
    ],
)
def test_durations_take_go_spelling(text: str, canonical: str) -> None:
    assert canonical_duration(text) == canonical


@pytest.mark.parametrize("value", ["", "1d", "1.5", "--1s", "s", "1h 30m", "web", 90, None, ["1m"]])
def test_anything_else_is_left_as_it_is(value: object) -> None:
    assert canonical_duration(value) == value


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_the_spelling_reads_back_as_the_same_length(nanoseconds: int) -> None:
    text = format_duration(nanoseconds)
    assert duration_nanoseconds(text) == nanoseconds
    assert canonical_duration(text) == text
