# -*- coding: utf-8 -*-
"""Logs a fixed set of records through one of CPython's stock handlers and writes, as JSON
lines on stdout, what the sender logged, for compare.py to check against `logtui query`.

Runs on Python 2.7 and 3.6+. Usage:
    send_records.py tcp|udp|unix|http-get|http-post ADDR [USER:PASSWORD]
"""
from __future__ import print_function, unicode_literals

import datetime
import decimal
import json
import logging
import logging.handlers
import math
import sys

PY3 = sys.version_info[0] >= 3
KIND, ADDR = sys.argv[1], sys.argv[2]
CREDS = sys.argv[3] if len(sys.argv) > 3 else None
captured = []


class Point(object):
    def __init__(self):
        self.x = 1
        self.y = 2


def capture(handler_cls):
    class Capturing(handler_cls):
        def emit(self, record):
            handler_cls.emit(self, record)
            captured.append(record)

        def handleError(self, record):
            raise RuntimeError("the sender failed to send a record")

    return Capturing


def make_handler():
    if KIND in ("tcp", "unix"):
        if KIND == "unix":
            return capture(logging.handlers.SocketHandler)(ADDR, None)
        host, port = ADDR.rsplit(":", 1)
        return capture(logging.handlers.SocketHandler)(host, int(port))
    if KIND == "udp":
        host, port = ADDR.rsplit(":", 1)
        return capture(logging.handlers.DatagramHandler)(host, int(port))
    method = "GET" if KIND == "http-get" else "POST"
    kwargs = {}
    if CREDS:
        kwargs["credentials"] = tuple(CREDS.split(":", 1))
    return capture(logging.handlers.HTTPHandler)(ADDR, "/log/ingest", method, **kwargs)


handler = make_handler()
log = logging.getLogger("svc.roundtrip." + KIND.replace("-", "_"))
log.setLevel(1)
log.propagate = False
log.addHandler(handler)
logging.addLevelName(35, "AUDIT")

big = 100 * 1024
if KIND == "udp":
    big = 50 * 1024  # a datagram holds at most 65507 bytes

log.info("user %s logged in from %s (attempt %d)", "alice", "10.0.0.7", 3)
zoe = "Zo\u00eb says \u65e5\u672c\u8a9e \u2713 \u2603 and %s"
if not PY3 and KIND.startswith("http"):
    # Python 2's urlencode cannot take non-ASCII unicode (the record would be lost at the
    # sender), so a py2 service sends UTF-8 byte strings; args then arrive as '\xc3\xa9' escapes.
    log.warning(zoe.encode("utf-8"), "caf\u00e9".encode("utf-8"))
else:
    log.warning(zoe, "caf\u00e9")
log.error("line one\nline two\n\ttabbed line three")
log.debug("big:" + "x" * big)
log.log(25, "a custom level without a name")
log.log(35, "a custom level with a name")
try:
    1 / 0
except ZeroDivisionError:
    if PY3:
        # A lone mapping argument becomes `args` itself (LogRecord's rule); %r formats the dict.
        log.exception("division failed for %r", {"k": 1})
    else:
        # Python 2 would repr it as {u'k': 1}, which a py3-style formatter cannot reproduce.
        log.exception("division failed for %s", 7)
extras = {
    "user_id": 42,
    "huge": 2 ** 70,
    "neg": -7,
    "ratio": 0.1,
    "not_a_number": float("nan"),
    "infinite": float("-inf"),
    "flag": True,
    "off": False,
    "nothing": None,
    "nested": {"a": [1, 2, {"b": "c"}], "d": {"e": None}},
    "items": [1, "two", 3.5],
    "pair": (1, "x"),
}
log.warning("with extras", extra=extras)
log.info("with objects", extra={
    "when": datetime.datetime(2026, 1, 2, 3, 4, 5, 599999),
    "amount": decimal.Decimal("1.10"),
    "point": Point(),
})
if PY3:
    log.info("with a stack", stack_info=True)
if sys.version_info >= (3, 12):
    # Kept in a string so Python 2 can still parse this file.
    exec(
        "import asyncio\n"
        "async def in_task():\n"
        "    log.info('inside a named task')\n"
        "async def main():\n"
        "    await asyncio.create_task(in_task(), name='ingest-task')\n"
        "asyncio.run(main())\n"
    )
handler.close()


def jsonable(v, http):
    """What logtui should hand back for an extra value."""
    if http:
        # HTTPHandler sends str() of everything; "None" comes back as null.
        return None if v is None else (v if isinstance(v, type("")) else str(v))
    if isinstance(v, tuple):
        return [jsonable(x, http) for x in v]
    if isinstance(v, list):
        return [jsonable(x, http) for x in v]
    if isinstance(v, dict):
        return dict((k, jsonable(x, http)) for k, x in v.items())
    if isinstance(v, (datetime.datetime, decimal.Decimal)):
        return {"$repr": repr(v)}
    if isinstance(v, Point):
        return {"$contains": "Point"}
    if isinstance(v, bytes) and not PY3:
        return v.decode("utf-8")
    return v


STANDARD = set(logging.LogRecord("n", 10, "p", 1, "m", (), None).__dict__) | {
    "message", "asctime", "taskName", "exc_text", "stack_info"}
http = KIND.startswith("http")
for r in captured:
    exp = {
        "logger": r.name,
        "message": r.getMessage(),
        "level": r.levelno,
        "levelname": r.levelname,
        "created": r.created,
        "created_text": str(r.created),
        "process": r.process,
        "thread": r.thread,
        "thread_name": r.threadName,
        "pathname": r.pathname,
        "lineno": r.lineno,
        "func": r.funcName,
        "exc_text": getattr(r, "exc_text", None),
        "stack_info": getattr(r, "stack_info", None),
        "task_name": getattr(r, "taskName", None),
        "extra": dict((k, jsonable(v, http)) for k, v in r.__dict__.items() if k not in STANDARD),
    }
    if http and r.exc_info:
        # HTTPHandler sends repr(exc_info) and no traceback text; logtui keeps the repr.
        exp["extra"]["exc_info"] = str(r.exc_info)
    print(json.dumps(exp))
