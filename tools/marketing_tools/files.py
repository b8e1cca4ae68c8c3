"""Profile and event files as users hand them to the CLI (SPEC 4.6): JSON lines or CSV, read one line at a time.

Each record comes out with its line number, or with the reason it is not a record; a reader never
holds the file in memory and never drops a line without saying why. No AWS and no terminal here.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import yaml
from pydantic import ValidationError

from marketing.domain.models import Consents, Profile
from marketing.domain.tags import profile_problems

ITEM_LIMIT = 400 * 1024        # DynamoDB item size limit
RECORD_LIMIT = 1024 * 1024     # Kinesis: data + partition key of one record
PARTITION_KEY_LIMIT = 256      # Kinesis partition key, in characters

PROFILE_FIELDS = frozenset(Profile.model_fields)
CONSENT_COLUMNS = frozenset(f"consents.{k}" for k in Consents.model_fields)
SCALAR_COLUMNS = ("customer_id", "status", "name", "msisdn", "email", "timezone", "locale")

_NUMBER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TRUE, _FALSE = frozenset({"true", "yes", "y", "1"}), frozenset({"false", "no", "n", "0"})
_LIST_SEPARATOR = re.compile(r"[,;]")


class HeaderError(Exception):
    """The CSV header cannot be read as profiles: nothing of the file is imported."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Row:
    """One record of a file, or why the lines from `line` to `end_line` are not one."""

    line: int
    end_line: int
    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class EventRecord:
    event_id: str
    partition_key: str
    data: bytes


def count_lines(path: Path) -> int:
    """Physical lines, for a progress bar's total (one pass over the bytes, nothing kept)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def is_csv(path: Path) -> bool:
    """By extension (.csv; .jsonl, .ndjson, .json), else by content: JSON lines start with `{`."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return True
    if suffix in (".jsonl", ".ndjson", ".json"):
        return False
    with open(path, "rb") as file:
        for raw in file:
            text = raw.decode("utf-8-sig", errors="replace").strip()
            if text:
                return not text.startswith("{")
    return False


def tag_types(path: Path | None) -> dict[str, str]:
    """Tag name → declared type from the tag dictionary (events/tags.yaml); {} when there is none."""
    if path is None or not Path(path).is_file():
        return {}
    tags = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("tags") or {}
    return {name: spec.get("type", "") for name, spec in tags.items() if isinstance(spec, dict)}


def _lines(path: Path, undecodable: set[int]) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 is noted in `undecodable` (and still yielded,
    so the CSV reader keeps its line count)."""
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                undecodable.add(number)
                yield raw.decode("utf-8", errors="replace")


def _json_objects(path: Path) -> Iterator[tuple[int, dict, str, str | None]]:
    """(line number, object, its text, None) per JSON-object line, or (number, {}, text, error)."""
    undecodable: set[int] = set()
    for number, text in enumerate(_lines(path, undecodable), 1):
        if number in undecodable:
            yield number, {}, text, "not UTF-8 text"
            continue
        stripped = text.strip()
        if not stripped:
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield number, {}, stripped, f"not JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(data, dict):
            yield number, {}, stripped, f"not a JSON object but {type(data).__name__}"
            continue
        yield number, data, stripped, None


def _validation_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'profile'}: {e['msg']}" for e in exc.errors(include_url=False)
    )


def _profile(data: dict[str, Any], tag_types: dict[str, str] | None = None) -> Profile | str:
    """The validated profile, or every reason it is not one (the model's and the contract's:
    status, E.164 MSISDN, IANA timezone, dictionary tags of their types)."""
    problems = profile_problems(data, tag_types or {})
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        return "; ".join([_validation_errors(exc), *problems])
    if problems:
        return "; ".join(problems)
    size = len(profile.model_dump_json(exclude_none=True).encode()) + len(profile.customer_id.encode()) + 64
    if size > ITEM_LIMIT:
        return f"profile is {size // 1024} KB; a DynamoDB item holds at most 400 KB"
    return profile


@dataclass
class ProfileFile:
    """Profiles from JSON lines (one SPEC 4.2 object per line) or CSV (the columns of CSV_FORMAT).

    `ignored` names the JSON fields that are not profile fields, with the first line carrying each."""

    path: Path
    tag_types: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def is_csv(self) -> bool:
        return is_csv(self.path)

    def rows(self) -> Iterator[Row]:
        """Raises HeaderError before yielding anything when a CSV header is unusable."""
        return self._csv_rows() if self.is_csv else self._json_rows()

    # ---- JSON lines

    def _json_rows(self) -> Iterator[Row]:
        for number, data, _, error in _json_objects(self.path):
            if error is not None:
                yield Row(number, number, error=error)
                continue
            for key in data.keys() - PROFILE_FIELDS:
                self.ignored.setdefault(key, number)
            result = _profile(data, self.tag_types)
            yield Row(number, number, error=result) if isinstance(result, str) else Row(number, number, value=result)

    # ---- CSV

    def _csv_rows(self) -> Iterator[Row]:
        undecodable: set[int] = set()
        lines = _lines(self.path, undecodable)
        reader = csv.reader(lines)
        header = self._header(next(reader, []))
        if 1 in undecodable:
            raise HeaderError(["line 1: the header is not UTF-8 text"])
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # the reader resumes on the next line
                start, previous = previous + 1, reader.line_num
                yield Row(start, previous, error=f"not CSV: {exc}")
                continue
            start, end = previous + 1, reader.line_num
            previous = end
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            bad = sorted(n for n in undecodable if start <= n <= end)
            if bad:
                undecodable.difference_update(bad)
                yield Row(start, end, error="not UTF-8 text")
                continue
            if len(cells) != len(header):
                yield Row(start, end, error=f"{len(cells)} cells where the header has {len(header)} columns")
                continue
            data, errors = self._cells(header, cells)
            result = _profile(data, self.tag_types)  # also with a bad cell left out: every reason of the row at once
            if isinstance(result, str):
                errors.append(result)
            yield Row(start, end, error="; ".join(errors)) if errors else Row(start, end, value=result)

    @staticmethod
    def _header(names: list[str]) -> list[str]:
        header = [n.strip() for n in names]
        errors = []
        if not header:
            raise HeaderError(["line 1: the file is empty; a CSV file starts with a header naming its columns"])
        for position, name in enumerate(header, 1):
            known = (name in SCALAR_COLUMNS or name in CONSENT_COLUMNS
                     or name in ("consents", "tags", "channel_preference")
                     or (name.startswith("tags.") and len(name) > len("tags.")))
            if not name:
                errors.append(f"line 1: column {position} has no name")
            elif not known:
                errors.append(f"line 1: column {position} {name!r} is not a profile column")
        for name in {n for n in header if n and header.count(n) > 1}:
            errors.append(f"line 1: column {name!r} appears {header.count(name)} times")
        if "customer_id" not in header:
            errors.append("line 1: there is no customer_id column")
        if errors:
            raise HeaderError(errors)
        return header

    def _cells(self, header: list[str], cells: list[str]) -> tuple[dict[str, Any], list[str]]:
        data: dict[str, Any] = {}
        consents: dict[str, Any] = {}
        tags: dict[str, Any] = {}
        errors: list[str] = []
        for name, raw in zip(header, cells):
            text = raw.strip()
            if not text:
                continue  # an empty cell is an absent value: the profile's default
            try:
                if name in SCALAR_COLUMNS:
                    data[name] = text
                elif name == "channel_preference":
                    data[name] = _split(text)
                elif name == "consents":
                    consents = {**_json_object(text), **consents}
                elif name in CONSENT_COLUMNS:
                    consents[name.removeprefix("consents.")] = _boolean(text)
                elif name == "tags":
                    tags = {**_json_object(text), **tags}
                else:
                    tag = name.removeprefix("tags.")
                    tags[tag] = _tag(text, self.tag_types.get(tag))
            except ValueError as exc:
                errors.append(f"{name}: {exc}")
        if consents:
            data["consents"] = consents
        if tags:
            data["tags"] = tags
        return data, errors


def _split(text: str) -> list[str]:
    return [part.strip() for part in _LIST_SEPARATOR.split(text) if part.strip()]


def _json_of(text: str, kind: type, name: str, broken: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{broken}: {exc.msg}") from None
    if not isinstance(value, kind):
        raise ValueError(f"expected a JSON {name}")
    return value


def _json_object(text: str) -> dict[str, Any]:
    return _json_of(text, dict, "object", "not JSON")


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _number(text: str) -> int | float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"expected a number, got {text!r}")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _json_list(text: str) -> list[Any]:
    return _json_of(text, list, "list", "not a JSON list")


def _tag(text: str, declared: str | None) -> Any:
    """A tag cell, typed by the tag dictionary when it declares the tag, else by its look."""
    if text.startswith('"') and text.endswith('"') and len(text) > 1:
        try:
            return str(json.loads(text))  # an explicit JSON string: "007" stays text
        except json.JSONDecodeError:
            raise ValueError(f"not a JSON string: {text}") from None
    match declared:
        case "string":
            return text
        case "integer":
            value = _number(text)
            if not isinstance(value, int):
                raise ValueError(f"expected an integer, got {text!r}")
            return value
        case "number":
            return _number(text)
        case "boolean":
            return _boolean(text)
        case "timestamp":
            try:
                datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"expected an ISO-8601 timestamp, got {text!r}") from None
            return text
        case "string_list":
            return _json_list(text) if text.startswith("[") else _split(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _NUMBER.fullmatch(text):
        return _number(text)
    if text.startswith("["):
        return _json_list(text)
    return text


def event_rows(path: Path) -> Iterator[Row]:
    """Customer events, one JSON object per line. Only what publishing needs is checked (an object
    with event_id and customer_id, the partition key): the enrich stage validates the rest and
    dead-letters what fails, as it does for any upstream."""
    for number, data, stripped, error in _json_objects(path):
        if error is not None:
            yield Row(number, number, error=error)
            continue
        errors = [f"{key}: {problem}" for key in ("event_id", "customer_id") if (problem := _identifier(data, key))]
        payload = stripped.encode()
        key = data.get("customer_id")
        if not errors and len(key) > PARTITION_KEY_LIMIT:
            errors.append(f"customer_id: {len(key)} characters; a Kinesis partition key has at most {PARTITION_KEY_LIMIT}")
        if not errors and len(payload) + len(key.encode()) > RECORD_LIMIT:
            errors.append(f"the record is {len(payload) // 1024} KB; a Kinesis record holds at most 1 MiB")
        if errors:
            yield Row(number, number, error="; ".join(errors))
        else:
            yield Row(number, number, value=EventRecord(data["event_id"], key, payload))


def _identifier(data: dict[str, Any], key: str) -> str | None:
    if key not in data:
        return "missing"
    if not isinstance(data[key], str) or not data[key].strip():
        return f"expected a non-empty string, got {json.dumps(data[key], ensure_ascii=False)}"
    return None
