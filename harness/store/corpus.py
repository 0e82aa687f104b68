"""Append-only, crash-safe, resumable JSONL corpus shards with a persistent dedup index.

Layout of a corpus directory (see ``corpus/README.md`` for the record schema)::

    shard-00000.jsonl, shard-00001.jsonl, ...   one JSON record per line; the source of truth
    index.txt                                   one record id per line, in shard order
    manifest.json                               counts, bytes, schema version, generator meta
    .lock                                       held by the open writer (empty file)

Guarantees:

* Every record line is one complete JSON object plus ``"\\n"``, written with a single
  ``write`` call; complete lines are never rewritten.
* A writer killed mid-write leaves at most one unterminated line at the end of the last
  shard; the next :class:`CorpusWriter` truncates it away and keeps every complete record.
* The index is appended after the record line, and reconciled with the shards on open
  (missing ids are appended; an index naming ids the shards lack is rebuilt).
* Any other damage (a corrupt complete line, an unterminated line in an earlier shard, a
  duplicated id) raises :class:`CorpusError` naming ``file:line``; nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
from collections.abc import Iterator, KeysView
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .canonical import CANONICAL_VERSION, canonical_id

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms run without the writer lock
    fcntl = None

__all__ = [
    "INDEX_NAME",
    "MANIFEST_NAME",
    "RECORD_FIELDS",
    "Record",
    "SCHEMA_VERSION",
    "VERIFICATION_FIELDS",
    "CorpusError",
    "code_bytes",
    "CorpusWriter",
    "read_records",
    "shard_paths",
    "utc_timestamp",
    "validate_record",
]

SCHEMA_VERSION = 5  # 2: verification gains gradient_status and gradient_note; 3: the optional jax section;
#: 4: the jax section gains gradient_status and gradient_note (the exact gradient oracle, harness.jax_backend.gradient);
#: 5: the tests section (the verified inputs and outputs, harness.check_translation) and verification.code_bytes
INDEX_NAME = "index.txt"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".lock"
_SHARD_NAME = "shard-{:05d}.jsonl"
_SHARD_RE = re.compile(r"shard-(\d{5,})\.jsonl")
_ID_RE = re.compile(r"[0-9a-f]{32}")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # pandas and Arrow readers need int64

@dataclass(frozen=True)
class Record:
    """One corpus record's required fields, typed, in the order they are written: the pipeline builds each record
    through this class once (``harness.pipeline``), and the store's field table (:data:`RECORD_FIELDS`) is read off
    it. The optional sections (``jax``, ``tests``) are added to the record's dict afterwards, by the stages that
    make them."""

    id: str
    kernel_name: str
    categories: list
    python_source: str
    cpu_forward: str
    cpu_backward: str
    cuda_forward: str
    cuda_backward: str
    verification: dict
    warp_version: str
    generator_version: str
    seed: int
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """The record as the JSON object a shard line holds (its fields in order; values not copied)."""
        return {f: getattr(self, f) for f in RECORD_FIELDS}


#: field -> accepted types, in the order fields are written (read off :class:`Record`)
RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    f.name: {"str": (str,), "int": (int,), "list": (list,), "dict": (dict,)}[f.type] for f in fields(Record)
}
VERIFICATION_FIELDS: dict[str, tuple[type, ...]] = {
    "cpu_executed": (bool,),
    "reference_match": (bool,),
    "nvrtc_compiled": (bool,),
    "nvrtc_arch": (str,),
    "outputs_checked": (int,),
    "max_error_ulp": (float, int),
    "input_seed": (int,),
    "gradient_checked": (bool,),
    "gradient_status": (str,),
    "gradient_note": (str,),
}
#: the optional ``jax`` section (``collect --backend both|jax``, harness.jax_backend.oracle makes it; corpus/README.md)
JAX_SECTION_FIELDS: dict[str, tuple[type, ...]] = {
    "expressible": (bool,),
    "reason": (str,),
    "reference_status": (str,),
    "outputs_checked": (int,),
    "source": (str,),
    "arguments": (list,),
    "float_inputs": (list,),
    "float_outputs": (list,),
    "forward_hlo": (str,),
    "backward_hlo": (str,),
    "optimized_hlo": (str,),
    "jax_version": (str,),
    "gradient_status": (str,),
    "gradient_note": (str,),
}

#: the optional ``tests`` section (schema 5: every record of a verified Warp run; harness.check_translation)
TESTS_FIELDS: dict[str, tuple[type, ...]] = {
    "dim": (int, list),
    "input_seed": (int,),
    "params": (list,),
    "inputs": (dict,),
    "outputs": (dict,),
}

_log = logging.getLogger(__name__)


class CorpusError(Exception):
    """A corpus directory cannot be opened, read or written; the message is one line."""


def utc_timestamp() -> str:
    """The current time as ISO 8601 UTC, e.g. ``2025-06-01T12:00:00Z`` (for ``created_at``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def code_bytes(record: dict[str, Any]) -> int:
    """UTF-8 bytes of a record's four generated functions (``verification.code_bytes``; the policy's
    ``max_code_kb`` budget)."""
    return sum(len(record.get(f, "").encode()) for f in ("cpu_forward", "cpu_backward", "cuda_forward", "cuda_backward"))


def shard_paths(out_dir: str | os.PathLike[str]) -> list[Path]:
    """The shard files of a corpus directory, in shard order."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise CorpusError(f"not a corpus directory: {out_dir}")
    numbered = []
    for path in out_dir.iterdir():
        match = _SHARD_RE.fullmatch(path.name)
        if match:
            numbered.append((int(match.group(1)), path))
    return [path for _, path in sorted(numbered)]


def read_records(out_dir: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield every record of every shard, in write order.

    An unterminated final line of the last shard (a write in progress, or a crash not yet
    repaired by reopening a writer) is skipped; any other bad line raises :class:`CorpusError`.
    """
    paths = shard_paths(out_dir)
    for number, path in enumerate(paths):
        is_last = number == len(paths) - 1
        with _open_for_reading(path) as lines:
            for lineno, line in enumerate(lines, 1):
                if not line.endswith(b"\n"):
                    if is_last:
                        return
                    raise CorpusError(f"{path}:{lineno}: unterminated line in a non-final shard")
                yield _parse_line(line, path, lineno)


def validate_record(record: Any) -> list[str]:
    """Schema problems of ``record``, one short sentence each; empty when it is valid.

    Beyond field presence and types this checks that ``id`` is the canonical id of
    ``python_source``, that counts and errors are non-negative and finite, that seeds fit in
    64 bits, and that ``created_at`` is an ISO 8601 timestamp in UTC. Unknown extra fields
    are allowed.
    """
    if not isinstance(record, dict):
        return [f"record must be a dict, got {type(record).__name__}"]
    problems = _check_fields(record, RECORD_FIELDS, "")
    if _is_number(record.get("seed"), int) and not _INT64_MIN <= record["seed"] <= _INT64_MAX:
        problems.append("seed must fit in a signed 64-bit integer")
    categories = record.get("categories")
    if isinstance(categories, list) and not all(isinstance(c, str) for c in categories):
        problems.append("categories must be a list of str")
    if isinstance(record.get("kernel_name"), str) and not record["kernel_name"]:
        problems.append("kernel_name must not be empty")
    created_at = record.get("created_at")
    if isinstance(created_at, str) and not _is_utc_iso8601(created_at):
        problems.append(f"created_at must be an ISO 8601 UTC timestamp, got {created_at!r}")
    verification = record.get("verification")
    if isinstance(verification, dict):
        problems += _check_fields(verification, VERIFICATION_FIELDS, "verification.")
        checked = verification.get("outputs_checked")
        if _is_number(checked, int) and checked < 0:
            problems.append("verification.outputs_checked must be >= 0")
        input_seed = verification.get("input_seed")
        if _is_number(input_seed, int) and not _INT64_MIN <= input_seed <= _INT64_MAX:
            problems.append("verification.input_seed must fit in a signed 64-bit integer")
        ulp = verification.get("max_error_ulp")
        if _is_number(ulp, (int, float)) and not (math.isfinite(ulp) and ulp >= 0):
            problems.append("verification.max_error_ulp must be finite and >= 0")
    for name, fields in (("tests", TESTS_FIELDS), ("jax", JAX_SECTION_FIELDS)):
        problems += _check_optional_section(record, name, fields)
    record_id, source = record.get("id"), record.get("python_source")
    if isinstance(record_id, str) and not _ID_RE.fullmatch(record_id):
        problems.append(f"id must be 32 lowercase hex digits, got {record_id!r}")
    elif isinstance(record_id, str) and isinstance(source, str):
        try:
            expected = canonical_id(source)
        except (SyntaxError, ValueError) as exc:
            problems.append(f"python_source does not parse: {exc}")
        else:
            if record_id != expected:
                problems.append(f"id does not match canonical_id(python_source) = {expected}")
    return problems


def _check_optional_section(record: dict, name: str, fields) -> list[str]:
    """Problems of the optional section ``record[name]`` (none when the record has no such section)."""
    if name not in record:
        return []
    section = record[name]
    if not isinstance(section, dict):
        return [f"{name} must be dict, got {type(section).__name__}"]
    return _check_fields(section, fields, f"{name}.")


@dataclass
class _Shard:
    number: int
    path: Path
    records: int = 0
    bytes: int = 0


class CorpusWriter:
    """Appends deduplicated records to a corpus directory; reopening resumes where it stopped.

    ``shard_max_bytes``: a new shard starts when a record would push the current one past
    this size (a record larger than the limit gets a shard of its own). ``fsync_every``:
    shard and index are fsynced after this many added records (0: only on flush/close).
    ``meta``: JSON-serialisable generator information stored in ``manifest.json``; when
    omitted, the meta of an existing manifest is kept. ``validate``: reject records for
    which :func:`validate_record` reports problems.

    Use from a single process. A second writer on the same directory is refused while the
    first is open (POSIX ``flock`` on ``.lock``).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        shard_max_bytes: int = 32 * 2**20,
        fsync_every: int = 64,
        meta: dict[str, Any] | None = None,
        validate: bool = True,
    ) -> None:
        if shard_max_bytes <= 0:
            raise ValueError(f"shard_max_bytes must be positive, got {shard_max_bytes}")
        if fsync_every < 0:
            raise ValueError(f"fsync_every must be >= 0, got {fsync_every}")
        if meta is not None:
            try:
                json.dumps(meta, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"meta must be JSON-serialisable: {exc}") from exc
        self.out_dir = Path(out_dir)
        self.shard_max_bytes = shard_max_bytes
        self.fsync_every = fsync_every
        self.validate = validate
        self.meta: dict[str, Any] = {}
        self._ids: dict[str, None] = {}
        self._shards: list[_Shard] = []
        self._total_bytes = 0
        self._shard_fd: int | None = None
        self._index_fd: int | None = None
        self._index_bytes = 0
        self._lock_fd: int | None = None
        self._unsynced = 0
        self._closed = True
        try:
            self._open(meta)
        except OSError as exc:
            self._release()
            raise CorpusError(_describe(exc, f"cannot open corpus directory {self.out_dir}")) from exc
        except BaseException:
            self._release()
            raise
        self._closed = False

    # -- public API -------------------------------------------------------------------------

    def add(self, record: dict[str, Any]) -> bool:
        """Append ``record`` unless its ``id`` is already stored; return whether it was written.

        Raises ``ValueError`` for a record without a string ``id``, one that is not
        JSON-serialisable (NaN and infinity included), or, with ``validate``, one that fails
        :func:`validate_record`; :class:`CorpusError` when the disk write fails.
        """
        self._check_open()
        if not isinstance(record, dict):
            raise TypeError(f"record must be a dict, got {type(record).__name__}")
        record_id = record.get("id")
        if not isinstance(record_id, str) or not record_id:
            raise ValueError("record needs a non-empty string 'id'")
        if record_id in self._ids:
            return False
        if self.validate:
            problems = validate_record(record)
            if problems:
                raise ValueError(f"invalid record {record_id}: " + "; ".join(problems))
        line = _encode(record)
        shard = self._shards[-1] if self._shards else None
        if shard is None or self._shard_fd is None or (
            shard.bytes > 0 and shard.bytes + len(line) > self.shard_max_bytes
        ):
            shard = self._start_shard()
        _write_all(self._shard_fd, line, shard.bytes, shard.path)
        shard.bytes += len(line)
        shard.records += 1
        self._total_bytes += len(line)
        self._ids[record_id] = None
        entry = (record_id + "\n").encode("utf-8")
        try:
            _write_all(self._index_fd, entry, self._index_bytes, self.out_dir / INDEX_NAME)
        except CorpusError as exc:
            raise CorpusError(f"{exc} (record {record_id} is stored; reopen to reconcile the index)") from exc
        self._index_bytes += len(entry)
        self._unsynced += 1
        if self.fsync_every and self._unsynced >= self.fsync_every:
            self._sync()
        return True

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def n_records(self) -> int:
        return len(self._ids)

    @property
    def total_bytes(self) -> int:
        """Bytes of all shards."""
        return self._total_bytes

    @property
    def ids(self) -> KeysView[str]:
        """A live, read-only view of the stored ids, in write order."""
        return self._ids.keys()

    def flush(self) -> None:
        """Fsync shard and index, then rewrite ``manifest.json`` atomically."""
        self._check_open()
        self._sync()
        self._write_manifest()

    def close(self) -> None:
        """Flush and release the directory; calling it again does nothing."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._release()

    def __enter__(self) -> CorpusWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"CorpusWriter({str(self.out_dir)!r}, {self.n_records} records, {state})"

    # -- opening and repair -----------------------------------------------------------------

    def _open(self, meta: dict[str, Any] | None) -> None:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise CorpusError(f"cannot create corpus directory {self.out_dir}: a file of that name exists")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CorpusError(_describe(exc, f"cannot create corpus directory {self.out_dir}")) from exc
        self._lock_fd = os.open(self.out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = f"corpus directory {self.out_dir} is already open by another writer"
                raise CorpusError(message) from None
        previous = self._read_manifest()
        self.meta = dict(meta) if meta is not None else dict(previous.get("meta") or {})

        shard_ids: dict[str, tuple[Path, int]] = {}
        paths = shard_paths(self.out_dir)
        for position, path in enumerate(paths):
            shard = _Shard(int(_SHARD_RE.fullmatch(path.name).group(1)), path)
            self._scan_shard(shard, shard_ids, is_last=position == len(paths) - 1)
            self._shards.append(shard)
            self._total_bytes += shard.bytes
        self._ids = dict.fromkeys(shard_ids)
        self._reconcile_index(list(self._ids))
        if self._shards:
            last = self._shards[-1]
            self._shard_fd = os.open(last.path, os.O_WRONLY | os.O_APPEND)

    def _scan_shard(self, shard: _Shard, seen: dict[str, tuple[Path, int]], *, is_last: bool) -> None:
        complete = 0
        with _open_for_reading(shard.path) as lines:
            for lineno, line in enumerate(lines, 1):
                if not line.endswith(b"\n"):
                    if not is_last:
                        raise CorpusError(f"{shard.path}:{lineno}: unterminated line in a non-final shard")
                    break
                record_id = _parse_line(line, shard.path, lineno)["id"]
                if record_id in seen:
                    first_path, first_line = seen[record_id]
                    raise CorpusError(
                        f"{shard.path}:{lineno}: duplicate id {record_id}"
                        f" (first at {first_path}:{first_line})"
                    )
                seen[record_id] = (shard.path, lineno)
                complete += len(line)
                shard.records += 1
        size = shard.path.stat().st_size
        if size > complete:
            _truncate(shard.path, complete)
            _log.warning(
                "%s: dropped %d bytes of an unterminated final line (interrupted write)",
                shard.path,
                size - complete,
            )
        shard.bytes = complete

    def _reconcile_index(self, shard_ids: list[str]) -> None:
        path = self.out_dir / INDEX_NAME
        data = path.read_bytes() if path.exists() else b""
        complete = data[: data.rfind(b"\n") + 1]
        listed = complete.decode("utf-8", errors="replace").split("\n")[:-1]
        if listed == shard_ids[: len(listed)]:
            if len(complete) < len(data):
                _truncate(path, len(complete))
            missing = shard_ids[len(listed) :]
            self._index_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._index_bytes = len(complete)
            if missing:
                entries = "".join(f"{record_id}\n" for record_id in missing).encode("utf-8")
                _write_all(self._index_fd, entries, self._index_bytes, path)
                self._index_bytes += len(entries)
                os.fsync(self._index_fd)
                _log.info("%s: appended %d ids found only in the shards", path, len(missing))
        else:
            entries = "".join(f"{record_id}\n" for record_id in shard_ids).encode("utf-8")
            _atomic_write(path, entries)
            self._index_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self._index_bytes = len(entries)
            _log.warning("%s: did not match the shards; rebuilt from %d records", path, len(shard_ids))

    def _read_manifest(self) -> dict[str, Any]:
        path = self.out_dir / MANIFEST_NAME
        if not path.exists():
            return {}
        try:
            manifest = json.loads(path.read_bytes())
        except ValueError as exc:
            raise CorpusError(f"{path}: unreadable manifest ({exc}); delete it to regenerate") from exc
        if not isinstance(manifest, dict):
            raise CorpusError(f"{path}: manifest is not a JSON object; delete it to regenerate")
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise CorpusError(f"{path}: schema_version {version!r}, this writer writes {SCHEMA_VERSION} "
                              f"(its records stay readable; collect into another directory)")
        canonical = manifest.get("canonical_version", CANONICAL_VERSION)
        if canonical != CANONICAL_VERSION:
            raise CorpusError(
                f"{path}: ids were made with canonical_version {canonical!r}, this writer uses"
                f" {CANONICAL_VERSION}; deduplication would not hold, start a new corpus"
            )
        python = manifest.get("python_version")
        if python is not None and python != _python_version():
            _log.warning(
                "%s: ids were made with Python %s, this is Python %s; ast.unparse differences may"
                " let duplicates through",
                path,
                python,
                _python_version(),
            )
        return manifest

    # -- writing ----------------------------------------------------------------------------

    def _start_shard(self) -> _Shard:
        if self._shard_fd is not None:
            self._sync()
            os.close(self._shard_fd)
            self._shard_fd = None
        number = self._shards[-1].number + 1 if self._shards else 0
        shard = _Shard(number, self.out_dir / _SHARD_NAME.format(number))
        try:
            self._shard_fd = os.open(shard.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise CorpusError(_describe(exc, f"cannot create shard {shard.path}")) from exc
        self._shards.append(shard)
        _fsync_dir(self.out_dir)
        return shard

    def _sync(self) -> None:
        try:
            for fd in (self._shard_fd, self._index_fd):
                if fd is not None:
                    os.fsync(fd)
        except OSError as exc:
            raise CorpusError(_describe(exc, f"cannot sync corpus directory {self.out_dir}")) from exc
        self._unsynced = 0

    def _write_manifest(self) -> None:
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "canonical_version": CANONICAL_VERSION,
            "python_version": _python_version(),
            "n_records": self.n_records,
            "total_bytes": self.total_bytes,
            "n_shards": len(self._shards),
            "shards": [
                {"file": shard.path.name, "records": shard.records, "bytes": shard.bytes}
                for shard in self._shards
            ],
            "index": INDEX_NAME,
            "meta": self.meta,
            "updated_at": utc_timestamp(),
        }
        data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            _atomic_write(self.out_dir / MANIFEST_NAME, data)
        except OSError as exc:
            raise CorpusError(_describe(exc, f"cannot write {self.out_dir / MANIFEST_NAME}")) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise CorpusError(f"corpus writer for {self.out_dir} is closed")

    def _release(self) -> None:
        for name in ("_shard_fd", "_index_fd", "_lock_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)  # closing the lock file releases the flock
                except OSError:
                    pass


# -- helpers ------------------------------------------------------------------------------


def _check_fields(mapping: dict[str, Any], fields: dict[str, tuple[type, ...]], prefix: str) -> list[str]:
    problems = []
    for name, types in fields.items():
        if name not in mapping:
            problems.append(f"missing field {prefix}{name}")
        elif not _has_type(mapping[name], types):
            expected = " or ".join(t.__name__ for t in types)
            problems.append(f"{prefix}{name} must be {expected}, got {type(mapping[name]).__name__}")
    return problems


def _python_version() -> str:
    major, minor, _ = platform.python_version_tuple()
    return f"{major}.{minor}"


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    if bool in types:
        return isinstance(value, bool)
    return _is_number(value, types)


def _is_number(value: Any, types: type | tuple[type, ...]) -> bool:
    """isinstance, except that a bool is never accepted as a number."""
    return isinstance(value, types) and not isinstance(value, bool)


def _is_utc_iso8601(text: str) -> bool:
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.utcoffset() == timedelta(0)


def _encode(record: dict[str, Any]) -> bytes:
    ordered = {name: record[name] for name in RECORD_FIELDS if name in record}
    ordered.update((name, value) for name, value in record.items() if name not in ordered)
    try:
        text = json.dumps(ordered, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"record {record.get('id')} is not JSON-serialisable: {exc}") from exc
    return (text + "\n").encode("utf-8")


def _parse_line(line: bytes, path: Path, lineno: int) -> dict[str, Any]:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorpusError(f"{path}:{lineno}: corrupt record line (invalid UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}:{lineno}: corrupt record line ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
        raise CorpusError(f"{path}:{lineno}: corrupt record line (not an object with a string 'id')")
    return record


def _open_for_reading(path: Path):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CorpusError(_describe(exc, f"cannot read {path}")) from exc


def _write_all(fd: int, data: bytes, rollback_to: int, path: Path) -> None:
    """Write ``data`` with one ``write`` call (more only after a short write).

    On failure the file is truncated back to ``rollback_to`` so no partial line remains.
    """
    view = memoryview(data)
    written = 0
    try:
        while written < len(data):
            count = os.write(fd, view[written:])
            if count <= 0:
                raise OSError(f"write returned {count}")
            written += count
    except OSError as exc:
        if written:
            try:
                os.ftruncate(fd, rollback_to)
            except OSError:
                pass  # the next open truncates the unterminated line instead
        raise CorpusError(_describe(exc, f"cannot write to {path}")) from exc


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not supported for directories on every platform
    finally:
        os.close(fd)


def _describe(exc: OSError, action: str) -> str:
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) not in action else ""
    return f"{action}: {reason}{where}"
