# -*- coding: utf-8 -*-
"""Sends records through one of CPython's stock handlers, for the end-to-end UI tests.

Each line of stdin is one record, `LEVEL MESSAGE` (LEVEL a `logging` level name). A handler
that fails to send raises instead of printing, so the test sees the failure. Python 3.
Usage: ui_send.py tcp|udp|http HOST:PORT LOGGER [JOB]   (JOB goes in as extra job_id)
"""
import logging
import logging.handlers
import sys

KIND, ADDR, LOGGER = sys.argv[1], sys.argv[2], sys.argv[3]
EXTRA = {"job_id": sys.argv[4]} if len(sys.argv) > 4 else None
HOST, PORT = ADDR.rsplit(":", 1)

if KIND == "tcp":
    handler = logging.handlers.SocketHandler(HOST, int(PORT))
elif KIND == "udp":
    handler = logging.handlers.DatagramHandler(HOST, int(PORT))
elif KIND == "http":
    handler = logging.handlers.HTTPHandler(ADDR, "/log", "POST")
else:
    sys.exit("unknown handler kind %r" % KIND)


def fail(record):
    raise RuntimeError("the %s handler failed to send a record" % KIND)


handler.handleError = fail
log = logging.getLogger(LOGGER)
log.setLevel(1)
log.propagate = False
log.addHandler(handler)
for line in sys.stdin:
    level, _, message = line.rstrip("\n").partition(" ")
    log.log(getattr(logging, level), "%s", message, extra=EXTRA)
handler.close()
