"""An urlencoded body read field by field: a far too long value is cut and marked, the rest kept as sent."""
import pytest

from backend.core.form_body import FIELD_CAP_BYTES, MAX_FIELDS, FormTooComplex, TooLong, read_fields


def test_a_value_over_the_cap_is_an_empty_too_long_and_the_others_are_decoded():
    body = b"name=%E4%B8%9C%E9%A3%8E+3&address=" + b"x" * (FIELD_CAP_BYTES + 1) + b"&outlets=2"
    fields = read_fields(body)
    assert fields == {"name": "东风 3", "address": "", "outlets": "2"}
    assert isinstance(fields["address"], TooLong) and not isinstance(fields["name"], TooLong)


def test_a_value_at_the_cap_is_kept_whole():
    assert read_fields(b"a=" + b"y" * FIELD_CAP_BYTES)["a"] == "y" * FIELD_CAP_BYTES


def test_a_nul_in_any_value_is_noticed_even_in_a_repeated_field_that_is_not_kept():
    fields = read_fields(b"a=%00&a=fine")
    assert fields == {"a": "fine"} and fields.has_nul
    assert not read_fields(b"a=1&b=2").has_nul


def test_more_fields_than_any_form_has_are_refused():
    with pytest.raises(FormTooComplex):
        read_fields(b"&".join(b"f%d=1" % n for n in range(MAX_FIELDS + 1)))
