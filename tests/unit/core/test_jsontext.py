"""Strict JSON decoding: numbers no float holds are kept exactly, without slowing every body."""

from __future__ import annotations

import pytest

from lib.core.jsontext import RawNumber, _needs_exact, decode_json


@pytest.mark.parametrize(
    ("body", "exact"),
    [
        (b'{"x": 1e-400}', True),
        (b'{"x":[1.5E-333, 2]}', True),
        (b'{"x": -2.0e-3000}', True),
        (b'{"n": 12345678901234567890123}', True),
        (b'{"id": "ab3e-1234-5678"}', False),  # an ID, not a number
        (b'{"id": "req-9e-181977746943"}', False),
        (b'{"x": 1e-5, "y": 2.5e+10}', False),  # floats hold these
    ],
)
def test_only_numbers_a_float_would_round_take_the_exact_decoder(body: bytes, exact: bool) -> None:
    assert _needs_exact(body) is exact


def test_a_tiny_number_keeps_its_digits_and_an_id_like_it_is_read_as_text() -> None:
    assert decode_json(b'{"x": 1e-400}') == {"x": RawNumber("1e-400")}
    assert decode_json(b'{"id": "ab3e-1234"}') == {"id": "ab3e-1234"}
