"""The CLI's file readers (SPEC 4.6): any file either yields records or located reasons, line by line;
no line is dropped without a word and nothing crashes, whatever the bytes.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from marketing_tools.files import HeaderError, ProfileFile, event_rows

LINE = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
            max_size=60),
    st.sampled_from(['{"event_id": "e", "customer_id": "c"}', '{"customer_id": "8613800000001"}', "[]", "{}",
                     '8613800000001,true,"sms;fax",26', ',,,', '"unterminated, quote']),
)


def _file(suffix: str, lines: list[str], raw_tail: bytes = b"") -> Path:
    handle = tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False)
    handle.write("".join(line + "\n" for line in lines).encode() + raw_tail)
    handle.close()
    return Path(handle.name)


@given(st.lists(LINE, max_size=12), st.booleans())
def test_every_non_blank_event_line_is_one_record_or_one_located_reason(lines, invalid_utf8):
    path = _file(".jsonl", lines, b"\xff\xfe not utf-8\n" if invalid_utf8 else b"")
    try:
        rows = list(event_rows(path))
    finally:
        path.unlink()
    expected = [n for n, line in enumerate(lines, 1) if line.strip()] + ([len(lines) + 1] if invalid_utf8 else [])
    assert [row.line for row in rows] == expected
    assert all((row.error is None) != (row.value is None) for row in rows)


@given(st.lists(LINE, max_size=12))
def test_a_csv_file_yields_profiles_or_located_reasons_and_never_crashes(lines):
    path = _file(".csv", ["customer_id,consents.sms,channel_preference,tags.tenure_months", *lines])
    try:
        rows = list(ProfileFile(path, {"tenure_months": "integer"}).rows())
    except HeaderError:
        raise AssertionError("the header is valid") from None
    finally:
        path.unlink()
    assert all(2 <= row.line <= row.end_line <= len(lines) + 1 for row in rows)
    assert all((row.error is None) != (row.value is None) for row in rows)
    assert [row.line for row in rows] == sorted({row.line for row in rows})


def test_an_unusable_header_is_refused_with_every_reason():
    path = _file(".csv", ["name,name,,tags.,emial", "x,y,z,w,v"])
    try:
        try:
            list(ProfileFile(path).rows())
        except HeaderError as exc:
            errors = exc.errors
        else:
            raise AssertionError("the header was accepted")
    finally:
        path.unlink()
    assert errors == ["line 1: column 3 has no name", "line 1: column 4 'tags.' is not a profile column",
                      "line 1: column 5 'emial' is not a profile column", "line 1: column 'name' appears 2 times",
                      "line 1: there is no customer_id column"]


def test_a_csv_cell_too_large_for_the_reader_is_a_located_reason_and_the_next_row_is_read():
    path = _file(".csv", ["customer_id,name", "8613800000001," + "x" * 200_000, "8613800000002,韩梅梅"])
    try:
        rows = list(ProfileFile(path).rows())
    finally:
        path.unlink()
    assert [(row.line, row.error) for row in rows][0] == (2, "not CSV: field larger than field limit (131072)")
    assert rows[1].line == 3 and rows[1].value.name == "韩梅梅"
