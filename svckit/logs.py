"""Process logs: one JSON object per line (`LOG_FORMAT=json`, the default) or today's
human lines (`LOG_FORMAT=text`, what `make run` uses), on standard error.

A JSON line carries `time` (UTC, ISO 8601), `level`, `process` (pid), `service` (the
process: `gateway` or the service's name), `logger` and `message`, then the fields of the
request being handled: `request_id`, `caller`, `method`, and those a request's summary line
adds (`duration_ms`, `outcome`, `status`, `route`, `error`; gunicorn's access lines `path`,
`remote`, `bytes`), `trace_id` and `span_id` when
a trace is being recorded (svckit.tracing), and `traceback` (one string) for a record with
an exception. A request's fields come from `bind()` (held per thread or greenthread, a
context variable) and from a record's `extra`.

Configured once per process, from its settings (`LOG_FORMAT`, `LOG_LEVEL`): `configure()`,
called by svckit.run and, in the gateway, by gunicorn's logger (gateway/server_log.py).

A request's summary line (gateway.request_log, svckit.worker_log) goes through `write()`:
straight to the JSON handler `configure()` installed when that handler is the only place the
record would go, without logging's LogRecord and handler chain (the same line, for a
fraction of the CPU: it is written for every request).

Lines below WARNING wait up to `LOG_FLUSH_SECONDS` (0.2 s) and go out together in one write
(`LineHandler`): a write per request cost a system call, and with gunicorn's threads a hand-off
of the interpreter lock, several times the line's own CPU. A WARNING or worse is written at
once, with what waited before it; so is everything when 64 KiB wait, before a fork, and at
exit (logging's shutdown flushes every handler). A process killed outright loses at most
that fraction of a second of INFO lines. `LOG_FLUSH_SECONDS=0` writes every line at once.
"""
import contextvars
import json
import logging
import os
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

FORMATS = ("json", "text")
# fields a record may carry (through `bind()` or `extra`), in the order they are written
FIELDS = ("request_id", "caller", "method", "route", "path", "status", "outcome",
          "duration_ms", "error", "remote", "bytes", "trace_id", "span_id")
_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("log_context",
                                                                       default=None)
# (service name, function giving the current trace and span ids or None): set by configure()
_process: dict[str, Any] = {"service": "", "trace_ids": None, "handler": None}


def bind(**fields) -> contextvars.Token:
    """Fields of the request being handled, written on every record logged until
    `unbind(token)` (in this thread or greenthread)."""
    current = _context.get()
    return _context.set({**current, **fields} if current else fields)


def unbind(token: contextvars.Token) -> None:
    _context.reset(token)


def bound() -> dict:
    """The fields bound in this thread or greenthread."""
    return dict(_context.get() or {})


def _fields(record: logging.LogRecord) -> dict:
    return _merged(record.__dict__)


def _merged(extra: dict) -> dict:
    """The bound fields, those of `extra` (a record's attributes, or `write()`'s fields)
    over them, and the current trace's ids."""
    fields = dict(_context.get() or {})
    for name in FIELDS:
        value = extra.get(name)
        if value is not None:
            fields[name] = value
    trace_ids: Callable[[], tuple[str, str] | None] | None = _process["trace_ids"]
    if trace_ids is not None and "trace_id" not in fields:
        ids = trace_ids()
        if ids:
            fields["trace_id"], fields["span_id"] = ids
    return fields


def _traceback(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[0] is not None:
        return "".join(traceback.format_exception(*record.exc_info)).rstrip()
    if record.exc_text:
        return record.exc_text
    return None


_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)  # made once: json.dumps with
# options makes one per call
_second: list = [-1, ""]  # the last whole second formatted, and its text


def _utc_time(created: float) -> str:
    """`2026-12-03T07:18:39.123Z` (the second's text made once per second)."""
    whole = int(created)
    if whole != _second[0]:
        _second[1] = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        _second[0] = whole
    return f"{_second[1]}.{int((created - whole) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": _utc_time(record.created),
               "level": record.levelname, "process": record.process,
               "service": _process["service"], "logger": record.name,
               "message": record.getMessage()}
        fields = _fields(record)
        doc.update((name, fields[name]) for name in FIELDS if name in fields)
        tb = _traceback(record)
        if tb:
            doc["traceback"] = tb
        if record.stack_info:
            doc["stack"] = record.stack_info
        return _ENCODER.encode(doc)

    def line(self, level: int, logger: str, message: str, extra: dict) -> str:
        """What `format` gives for a record of `logger` at `level` with `message` (no
        arguments, no exception) and `extra`, without the record: the fixed fields made
        once, each value encoded on its own (strings and numbers without the encoder)."""
        parts = [f'{{"time": "{_utc_time(time.time())}", {_static(level, logger)}, '
                 f'"message": {_encode_string(message)}']
        bound = _context.get() or {}
        for name in FIELDS[:-2]:
            value = extra.get(name)
            if value is None:
                if name not in bound:
                    continue
                value = bound[name]
            parts.append(f', "{name}": {_value(value)}')
        trace_id, span_id = (_picked(extra, bound, "trace_id"),
                             _picked(extra, bound, "span_id"))
        trace_ids = _process["trace_ids"]
        if trace_id is _ABSENT and trace_ids is not None:
            ids = trace_ids()
            if ids:
                trace_id, span_id = ids
        if trace_id is not _ABSENT:
            parts.append(f', "trace_id": {_value(trace_id)}')
        if span_id is not _ABSENT:
            parts.append(f', "span_id": {_value(span_id)}')
        parts.append("}")
        return "".join(parts)


_ABSENT = object()
_encode_string = json.encoder.encode_basestring  # what _ENCODER does with a str (C)


def _picked(extra: dict, bound: dict, name: str):
    value = extra.get(name)
    if value is None:
        return bound.get(name, _ABSENT)
    return value


def _value(value) -> str:
    """`value` as _ENCODER writes it."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:  # finite: NaN and infinities below
        return float.__repr__(value)
    return _ENCODER.encode(value)


_statics: dict[tuple[int, str], str] = {}  # (level, logger) -> its line's fixed fields


def _static(level: int, logger: str) -> str:
    """`"level": ..., "process": ..., "service": ..., "logger": ...` of a JSON line (made
    once per level and logger; forgotten when the process forks or is renamed)."""
    text = _statics.get((level, logger))
    if text is None:
        text = _statics[level, logger] = _ENCODER.encode(
            {"level": logging.getLevelName(level),
             "process": os.getpid() if logging.logProcesses else None,
             "service": _process["service"], "logger": logger})[1:-1]
    return text


os.register_at_fork(after_in_child=_statics.clear)


def write(log: logging.Logger, level: int, message: str, fields: dict) -> None:
    """A record of `log` at `level`: `message` (already formatted) with `fields` (as a
    record's `extra`). Written by the JSON handler of `configure()` directly when the record
    would reach that handler alone (`log` a child of the root without handlers or filters
    of its own, the root's only handler, no filters); through logging otherwise (the text
    format, a test's capture handler, ...). The lines are the same."""
    if not log.isEnabledFor(level):
        return
    handler = _process["handler"]
    root = log.parent
    if (handler is not None and root is log.root and not log.handlers and not log.filters
            and log.propagate and root.handlers == [handler] and not root.filters
            and not handler.filters and level >= handler.level):
        formatter = handler.formatter
        if isinstance(formatter, JsonFormatter) and isinstance(handler, LineHandler):
            try:
                line = formatter.line(level, log.name, message, fields)
                handler.acquire()  # what Handler.handle does around emit
                try:
                    handler.put(line, level)
                finally:
                    handler.release()
                return
            except Exception:  # a field the encoder refuses, a stream that fails: logging
                pass  # tries again and reports it as it does (Handler.handleError)
    log.log(level, message, extra=fields)


class TextFormatter(logging.Formatter):
    """Human lines: `<time> <service> <LEVEL> <logger>: <message> [k=v ...]`, a
    traceback below."""

    def __init__(self):
        super().__init__("%(asctime)s %(service_name)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.service_name = _process["service"]
        line = super().format(record)
        fields = _fields(record)
        extra = " ".join(f"{name}={fields[name]}" for name in FIELDS if name in fields)
        if not extra:
            return line
        first, sep, rest = line.partition("\n")
        return f"{first} [{extra}]{sep}{rest}"


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


BUFFER_LIMIT = 64 * 1024  # characters of waiting lines that are written at once
_line_handlers: "weakref.WeakSet[LineHandler]" = weakref.WeakSet()


class LineHandler(logging.StreamHandler):
    """A StreamHandler whose lines below WARNING wait up to `flush_seconds` (a thread of its
    own, started by the first line that waits, writes them), written together in one write;
    a WARNING or worse writes what waits and itself at once (`flush_seconds` 0: every
    line at once)."""

    def __init__(self, stream, flush_seconds: float = 0.0):
        super().__init__(stream)
        self.flush_seconds = flush_seconds
        self._reset()
        _line_handlers.add(self)

    def _reset(self) -> None:
        self._pending: list[str] = []
        self._size = 0
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.put(self.format(record), record.levelno)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def put(self, line: str, level: int) -> None:
        """Write `line` of a record at `level`, or keep it for the next write; the caller
        holds `self.lock`."""
        self._pending.append(line + self.terminator)
        self._size += len(line) + 1
        if self.flush_seconds <= 0 or level >= logging.WARNING or self._size >= BUFFER_LIMIT:
            self._write_pending()
        elif len(self._pending) == 1:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_when_due,
                                                 name="log-flush", daemon=True)
                self._flusher.start()
            self._due.set()

    def _write_pending(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        self.stream.write(text)
        self.stream.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            if self._pending:
                self._write_pending()
            elif self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()

    def _flush_when_due(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self.flush_seconds)
            self._due.clear()  # a line put from now on sets it again, or is written below
            try:
                self.flush()
            except Exception:  # the stream failed: those lines are lost, the next may pass
                pass


def flush() -> None:
    """Write every line waiting in this process (before an `os._exit`)."""
    for handler in list(_line_handlers):
        try:
            handler.flush()
        except Exception:
            pass


def _forked() -> None:  # the child starts empty: its parent wrote what waited
    for handler in list(_line_handlers):
        handler._reset()


os.register_at_fork(before=flush, after_in_child=_forked)


class WorkerErrorsLoggedOnce(logging.Filter):
    """Drops nameko's own record of a failed worker: svckit.worker_log writes that worker's
    one line (an expected error at INFO without a traceback, an unexpected one at ERROR
    with it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("error handling worker",
                                               "(expected) error handling worker"))


def set_process(service: str, trace_ids=None) -> None:
    """Name the process in every record; `trace_ids()` gives the current (trace id, span
    id) as hex, or None (svckit.tracing.current_ids)."""
    _process["service"] = service
    _process["trace_ids"] = trace_ids
    _statics.clear()


def configure(service: str, log_format: str, level: str, trace_ids=None,
              stream=None, flush_seconds: float = 0.0) -> None:
    """The process's logging: every record at `level` or above to standard error (or
    `stream`), in `log_format`; lines below WARNING written together every `flush_seconds`
    (LineHandler)."""
    set_process(service, trace_ids)
    # what no line shows is not gathered per record (the logging HOWTO's "Optimization"):
    # the caller's frame, the thread (under eventlet, a costly green lookup), the
    # multiprocessing name
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = LineHandler(stream or sys.stderr, flush_seconds)
    handler.setFormatter(formatter(log_format))
    _process["handler"] = handler
    root = logging.getLogger()
    for old in list(root.handlers):
        old.flush()  # what a LineHandler held goes out before it does
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("nameko.containers").addFilter(WorkerErrorsLoggedOnce())
    logging.captureWarnings(True)  # warnings as records, in the same format
