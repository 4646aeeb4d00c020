#!/usr/bin/env python3
"""Writes COUNT length-prefixed frames, byte for byte what logging.handlers.SocketHandler sends.
Usage: python3 benches/make_frames.py OUT_FILE COUNT   (stdlib only; feeds the decode and TCP benchmarks)

The records come from real logger calls, so LogRecord, makePickle (protocol 1) and the
traceback formatting are CPython's own. The mix is what a busy web service logs:
mostly INFO lines with %-args, a WARNING with extras every 10th record, and an ERROR from
logger.exception() with a real traceback every 50th. Frames average about 564 bytes on
Python 3.11 and 580 on 3.12+ (which adds taskName): a LogRecord's fixed keys alone take
~520 bytes, so ~540 is the floor for any INFO line with a meaningful message.
The output is deterministic except for times, thread/process ids and the script's path.
"""

import logging
import logging.handlers
import random
import sys


class CaptureHandler(logging.handlers.SocketHandler):
    """A SocketHandler whose socket is a list: emit() runs makePickle() and passes the exact
    wire bytes (length prefix included) to send(), which keeps them instead of sending."""

    def __init__(self):
        super().__init__("127.0.0.1", 9)
        self.frames = []

    def send(self, s):
        self.frames.append(s)


PATHS = ["/", "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users/{id}/profile",
         "/healthz", "/static/app.js", "/api/v1/search", "/api/v1/cart/items"]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
TABLES = ["orders", "users", "sessions", "inventory", "payments"]


def handle_request(log, rng):
    path = rng.choice(PATHS).replace("{id}", str(rng.randrange(1, 99999)))
    log.info("%s %s %d %.1fms", rng.choice(["GET", "GET", "GET", "POST", "PUT"]), path,
             rng.choice([200, 200, 200, 201, 204, 304, 404]), rng.uniform(0.3, 250.0))


def login(log, rng):
    log.info("user %s logged in from %s", rng.choice(USERS),
             "10.0.%d.%d" % (rng.randrange(256), rng.randrange(256)))


def process_batch(log, rng):
    log.info("batch %d: %d items", rng.randrange(1, 1000), rng.randrange(1, 500))


def slow_query(log, rng):
    table = rng.choice(TABLES)
    log.warning("slow query on %s took %.2fs", table, rng.uniform(0.5, 5.0),
                extra={"user_id": rng.randrange(1, 100000),
                       "latency_ms": round(rng.uniform(500.0, 5000.0), 1),
                       "tags": ["db", table]})


def charge_card(order):
    return order["card"]["token"]


def checkout(log, rng):
    order = {"id": rng.randrange(10**6), "card": {}}
    try:
        charge_card(order)
    except KeyError:
        log.exception("checkout failed for order %d", order["id"])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: make_frames.py OUT_FILE COUNT\n")
        return 2
    out_path, count = argv[1], int(argv[2])
    rng = random.Random(20260102)
    handler = CaptureHandler()
    loggers = [logging.getLogger(n) for n in
               ("app.http", "app.auth", "app.worker", "app.db", "app.payments")]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.propagate = False
        lg.addHandler(handler)
    http, auth, worker, db, payments = loggers
    for n in range(count):
        if n % 50 == 49:
            checkout(payments, rng)
        elif n % 10 == 9:
            slow_query(db, rng)
        else:
            pick = rng.random()
            if pick < 0.6:
                handle_request(http, rng)
            elif pick < 0.8:
                login(auth, rng)
            else:
                process_batch(worker, rng)
    frames = handler.frames
    with open(out_path, "wb") as f:
        for fr in frames:
            f.write(fr)
    total = sum(len(fr) for fr in frames)
    print("wrote %d frames, %d bytes, average %.1f bytes per frame (Python %s)"
          % (len(frames), total, total / max(len(frames), 1), sys.version.split()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
