"""The landing zone's files, checked before dbt reads them: every declared source has files (those
the published warehouse was built from among them), each readable (whole gzip, UTF-8 text), with
exactly the declared fields and some rows, and none is a byte copy of another or left unread."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import itertools
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.config import SAMPLE_SIZE, dbt_vars
from lakehouse.quality.records import CheckResult, to_json


@dataclass(frozen=True)
class RawSource:
    """A raw source as declared once, in the `raw_sources` var of dbt_project.yml."""

    name: str
    files: str
    fields: list[str]

    @property
    def folder(self) -> str:
        """The folder the source's files are landed under: its pattern's parts before any glob."""
        return "/".join(
            itertools.takewhile(lambda part: not any(c in part for c in "*?["), self.files.split("/"))
        )


def declared_sources() -> list[RawSource]:
    return [
        RawSource(name, spec["files"], list(spec["fields"]))
        for name, spec in dbt_vars()["raw_sources"].items()
    ]


@dataclass(frozen=True)
class RawFile:
    """What a raw file holds, measured without any SQL engine (quality.raw_files). `error` says why
    a file cannot be read (then it has no rows or fields)."""

    source: str
    file: str
    size_bytes: int
    sha256: str
    data_rows: int
    fields: list[str]
    error: str | None = None
    # the line each field is first used on, where lines differ in fields (JSON Lines)
    first_lines: dict[str, int] = field(default_factory=dict)


class UnreadableFileError(ValueError):
    """A raw file that is not text dbt can read; the message says where and why."""


GZIP_MAGIC = b"\x1f\x8b"


def _gunzipped(data: bytes) -> bytes:
    """The gzip members of `data` one after the other, decompressed, as DuckDB reads them: bytes
    after the last member that are not another one (even the zero padding that gzip's own tools
    skip) make the file unreadable."""
    parts, rest = [], data
    while rest:
        if not rest.startswith(GZIP_MAGIC):
            if rest is data:
                raise gzip.BadGzipFile(f"Not a gzipped file ({rest[:2]!r})")
            padding = "zero bytes" if not rest.strip(b"\0") else "bytes that are not gzip"
            raise UnreadableFileError(
                f"not gzip to its end: {len(rest)} {padding} after the compressed data, "
                f"from byte {len(data) - len(rest) + 1}"
            )
        decompressor = zlib.decompressobj(wbits=31)
        parts.append(decompressor.decompress(rest))
        if not decompressor.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        rest = decompressor.unused_data
    return b"".join(parts)


def _text_lines(path: Path, content: bytes) -> Iterator[str]:
    """The lines of a file's `content` as text (decompressed if gzip), without a UTF-8 byte order
    mark at its start (DuckDB reads past one, so the header's first name is the name after it).
    Decoded line by line, so that bytes that are not UTF-8, or a binary file, are named by their
    line."""
    data = _gunzipped(content) if path.suffix == ".gz" else content
    for number, line in enumerate(io.BytesIO(data), start=1):
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if b"\0" in line:
            raise UnreadableFileError(f"binary, not text: a NUL byte on line {number}")
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableFileError(
                f"not UTF-8: byte 0x{line[error.start]:02x} on line {number}, column {error.start + 1}"
            ) from None


def _runs_on(started: int, ended: int) -> str:
    return (
        f"not a table: the row on line {started} runs on to line {ended} "
        "(a quote opened on that line and not closed on it?)"
    )


def _rows_and_fields(path: Path, content: bytes) -> tuple[int, list[str], dict[str, int]]:
    """Data rows, fields and the line each field is first used on (JSON Lines; a CSV names its
    fields on line 1) of a file's `content`, in one pass. A CSV's fields are its header's names,
    and each of its rows is one line with as many (a row with more or fewer, a file cut mid-line,
    is not a table: its fields cannot be told apart), with no blank line between rows and no row
    over several lines (either would shift the line numbers the base model gives rows: a quote
    left open takes in the lines after it); blank lines at its end are not rows. A JSON Lines
    file's fields are every key it uses (unparseable lines are the base model's business: it
    quarantines them with their line number)."""
    lines = _text_lines(path, content)
    if ".csv" in path.suffixes:
        reader = csv.reader(lines)
        try:
            header = next(reader, [])
            if reader.line_num > 1:
                raise UnreadableFileError(_runs_on(1, reader.line_num))
            rows, blank, ended = 0, None, reader.line_num
            for row in reader:
                started, ended = ended + 1, reader.line_num
                if not row:
                    blank = blank or reader.line_num
                    continue
                if blank is not None:
                    raise UnreadableFileError(f"not a table: line {blank} is blank, between rows")
                if ended > started:
                    raise UnreadableFileError(_runs_on(started, ended))
                if len(row) != len(header):
                    raise UnreadableFileError(
                        f"not a table: line {reader.line_num} has {len(row)} fields, the header {len(header)}"
                    )
                rows += 1
            return rows, header, {}
        except csv.Error as error:
            raise UnreadableFileError(f"not CSV: {error} (line {reader.line_num})") from None
    rows = 0
    keys: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rows += 1
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            for key in record:
                keys.setdefault(key, number)
    return rows, list(keys), keys


def _cause(error: Exception) -> str:
    """Why a file could not be read, in words that point at the fix."""
    if isinstance(error, UnreadableFileError):
        return str(error)
    if isinstance(error, gzip.BadGzipFile):
        return f"not gzip: {error}"
    if isinstance(error, EOFError | zlib.error):
        return f"corrupt gzip: {error}"
    if isinstance(error, OSError):
        return f"unreadable: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"


def inspect_file(raw: Path, source: str, path: Path) -> RawFile:
    """Size, checksum, rows and fields of one file, or why it cannot be read."""
    file = str(path.relative_to(raw))
    try:
        content = path.read_bytes()
        rows, fields, first_lines = _rows_and_fields(path, content)
    except (OSError, EOFError, zlib.error, UnreadableFileError) as error:
        size = path.stat().st_size if path.is_file() else 0
        return RawFile(source, file, size, "", 0, [], error=_cause(error))
    return RawFile(
        source, file, len(content), hashlib.sha256(content).hexdigest(), rows, fields, first_lines=first_lines
    )


def inspect_raw_files(raw: Path, sources: list[RawSource]) -> dict[str, list[RawFile]]:
    """Every file of every declared source: size, checksum, rows and fields, or why it cannot be
    read."""
    return {
        source.name: [inspect_file(raw, source.name, path) for path in sorted(raw.glob(source.files))]
        for source in sources
    }


def stray_files(raw: Path, sources: list[RawSource]) -> dict[str, list[str]]:
    """Per source, the files under its folder that its pattern does not match (hidden files
    aside): data the build would not read, e.g. a month landed uncompressed or misnamed."""
    strays = {}
    for source in sources:
        folder = raw / source.folder
        read = set(raw.glob(source.files))
        strays[source.name] = sorted(
            str(path.relative_to(raw))
            for path in folder.rglob("*")
            if path.is_file() and path not in read and not path.name.startswith(".")
        )
    return strays


def _raw_check(
    source: RawSource,
    files: list[RawFile],
    expectation: str,
    expected: str,
    why: str,
    offending: dict[str, Any],
    column: str | None = None,
) -> CheckResult:
    return CheckResult(
        suite="raw_files",
        table_name=f"raw.{source.name}",
        expectation=expectation,
        column_name=column,
        severity="critical",
        success=not offending,
        expected=expected,
        observed_value=to_json(offending) if offending else f"{len(files)} files",
        unexpected_count=len(offending),
        unexpected_sample=to_json(sorted(offending)[:SAMPLE_SIZE]),
        why=why,
    )


def _field_faults(source: RawSource, file: RawFile) -> dict[str, Any]:
    """The declared fields a file lacks, those it has undeclared, and those it names twice (the
    engine renames the second, and which one the models read depends on the columns' order)."""
    repeated = [c for c in dict.fromkeys(file.fields) if file.fields.count(c) > 1]
    if set(file.fields) == set(source.fields) and not repeated:
        return {}
    unexpected = [c for c in file.fields if c not in source.fields]
    faults: dict[str, Any] = {
        "missing": [c for c in source.fields if c not in file.fields],
        "unexpected": unexpected,
    }
    if file.first_lines and unexpected:
        # where to look in a file whose lines name their own fields
        faults["first_used_on_line"] = {c: file.first_lines[c] for c in unexpected}
    return faults | ({"repeated": repeated} if repeated else {})


def raw_file_checks(
    sources: list[RawSource],
    found: dict[str, list[RawFile]],
    strays: dict[str, list[str]] | None = None,
    accepted: dict[str, list[str]] | None = None,
) -> list[CheckResult]:
    """Critical checks that must hold before dbt reads the files: each source has files, every
    file it had when the published warehouse was built (`accepted`, by source) and no file under
    its folder that the build would not read (`stray_files`), each file can be read, has exactly
    the declared fields, each once, and some rows, and no file is a byte copy of another. A file
    that cannot be read fails the first of these only."""
    results: list[CheckResult] = []
    for source in sources:
        unread = (strays or {}).get(source.name, [])
        every_file = found[source.name]
        present = {f.file for f in every_file}
        gone = [file for file in (accepted or {}).get(source.name, []) if file not in present]
        unreadable = {f.file: f.error for f in every_file if f.error}
        files = [f for f in every_file if not f.error]
        # a file without a line has no fields to compare: it fails the data rows check alone
        faults = {f.file: _field_faults(source, f) for f in files if f.fields or f.data_rows}
        mismatched = {file: fault for file, fault in faults.items() if fault}
        first_with_bytes: dict[str, str] = {}
        copies: dict[str, str] = {}
        for f in files:
            if f.sha256 in first_with_bytes:
                copies[f.file] = f"same bytes as {first_with_bytes[f.sha256]}"
            first_with_bytes.setdefault(f.sha256, f.file)
        results += [
            _raw_check(
                source,
                every_file,
                "files exist",
                f"at least one file matching {source.files}",
                f"Files matching {source.files} must exist in the landing zone.",
                {} if every_file else {source.files: "no file matches"},
            ),
            _raw_check(
                source,
                every_file,
                "no published file is gone",
                "every file the published warehouse was built from still in the landing zone",
                "A file gone would take its rows out of the warehouse without a word (a month of "
                "flights lost). A removal on purpose: `lakehouse run --accept-removed`.",
                {file: "published, now missing from the landing zone" for file in gone},
            ),
            _raw_check(
                source,
                every_file,
                "every file is read",
                f"every file under {source.folder}/ matching {source.files}",
                "A file the build does not read (another name, another compression) is data left out "
                "without a word: a month missing from the warehouse.",
                {file: f"not read: the build reads {source.files}" for file in unread},
            ),
            _raw_check(
                source,
                every_file,
                "files can be read",
                "every file readable, whole (gzip to its end) and UTF-8 text",
                "dbt cannot read a file cut short, corrupt, binary or in another encoding; it would "
                "stop the build without naming the file.",
                unreadable,
            ),
            _raw_check(
                source,
                files,
                "file fields match the declared fields",
                f"exactly the fields declared in dbt_project.yml (vars.raw_sources.{source.name}), each once",
                "dbt reads columns by name: a missing or renamed column cannot be read, and an "
                "undeclared or repeated one would be ignored silently.",
                mismatched,
                column=", ".join(sorted({c for m in mismatched.values() for k in m.values() for c in k}))
                or None,
            ),
            _raw_check(
                source,
                files,
                "files have data rows",
                "at least one data row per file",
                "An empty file means a lost extract, not a month without flights.",
                {f.file: "no data rows" if f.fields else "empty" for f in files if f.data_rows == 0},
            ),
            _raw_check(
                source,
                files,
                "no file is a copy of another",
                "distinct SHA-256 per file",
                "A file delivered twice would count its rows twice.",
                copies,
            ),
        ]
    return results
