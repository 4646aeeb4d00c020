#!/usr/bin/env python3
"""Redis list consumption benchmark: pre-fills a list of a redis-server of its own with values
shaped exactly as Logbook's RedisHandler makes them, then times `logtui record --list-key` taking,
storing and acknowledging them all, and reports the median rate and peak RSS.

The values come from the real handler: a RedisHandler formats a few records of varied level,
extra_fields and kwargs (its own emit, never flushed), and those JSON values are the templates,
numbered so that every value is distinct. A run's clock starts when logtui is spawned and stops
when logtui's trimmed counter reaches N: every value is then committed (a value leaves the
processing list only after its record is). The store is checked afterwards.

Usage: python3 benches/redis_list.py [--records N] [--runs R]
"""
import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import logbook
import redis
from logbook.queues import RedisHandler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "target", "release", "logtui")
KEY = "redis"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def start_redis(d):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port)
    deadline = time.time() + 10
    while True:
        try:
            r.ping()
            return proc, r, port
        except redis.ConnectionError:
            if time.time() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.02)


def logbook_templates(port):
    """JSON values made by RedisHandler.emit itself (flush_threshold too high to ever send)."""
    h = RedisHandler("127.0.0.1", port, key=KEY, flush_threshold=10**9, flush_time=10**6,
                     extra_fields={"service": "billing", "region": "eu-1"})
    log = logbook.Logger("billing.api")
    with h.applicationbound():
        log.info("request {path} handled in {ms} ms", path="/v1/invoices", ms=12)
        log.warning("disk {pct}% full on {mount}", pct=93, mount="/var")
        log.error("payment {id} declined by the bank", id="pi_3NxY")
        log.notice("user {user} logged in", user="ada")
        log.debug("cache miss for key {k}", k="inv:42")
    vals = list(h.queue)
    h.queue = []
    return [json.loads(v) for v in vals]


def fill(r, templates, n):
    """RPUSHes n distinct values, 2,000 per command, as RedisHandler would (json.dumps)."""
    r.delete(KEY)
    pipe = r.pipeline(transaction=False)
    batch = []
    for i in range(n):
        d = dict(templates[i % len(templates)])
        d["message"] = "%s #%d" % (d["message"], i)
        batch.append(json.dumps(d))
        if len(batch) == 2000:
            pipe.rpush(KEY, *batch)
            batch = []
            if len(pipe) >= 20:
                pipe.execute()
    if batch:
        pipe.rpush(KEY, *batch)
    pipe.execute()
    assert r.llen(KEY) == n


def run(r, port, n):
    d = tempfile.mkdtemp(prefix="logtui-redis-bench-")
    db = os.path.join(d, "bench.db")
    t0 = time.time()
    proc = subprocess.Popen(
        [BIN, "record", "--db", db, "--tcp", "off", "--udp", "off", "--http", "off",
         "--redis", "redis://127.0.0.1:%d" % port, "--channel", "logtui-bench-unused",
         "--list-key", KEY],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env=dict(os.environ, XDG_CONFIG_HOME=d))
    line = proc.stderr.readline()
    if "listening on" not in line:
        raise SystemExit("logtui did not start: %r" % line)
    deadline = time.time() + 600
    while True:
        if proc.poll() is not None:
            raise SystemExit("logtui died: exit %s" % proc.returncode)
        # The counter of values removed from the processing list after their commit (an
        # emptied list is deleted by Redis, so its length says nothing).
        trimmed = r.keys("logtui:trimmed:*")
        if trimmed and int(r.get(trimmed[0]) or 0) >= n:
            t1 = time.time()
            break
        if time.time() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.005)
    rss = peak_rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    stored = c.execute("SELECT count(*) FROM records WHERE source = 'redis'").fetchone()[0]
    c.close()
    if stored != n:
        raise SystemExit("stored %d of %d" % (stored, n))
    for p in r.keys("logtui:*"):
        r.delete(p)
    return n / (t1 - t0), rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    d = tempfile.mkdtemp(prefix="redis-bench-")
    server, r, port = start_redis(d)
    try:
        templates = logbook_templates(port)
        print("value shape (from RedisHandler.emit): %s" % json.dumps(templates[0]))
        results = []
        for i in range(a.runs):
            t = time.time()
            fill(r, templates, a.records)
            print("run %d: filled %d values in %.1f s" % (i + 1, a.records, time.time() - t), flush=True)
            rate, rss = run(r, port, a.records)
            results.append((rate, rss))
            print("run %d: %10.0f records/s  peak RSS %6.1f MB" % (i + 1, rate, rss), flush=True)
        print()
        print("%d records, %d runs: median %.0f records/s, peak RSS median %.1f MB (max %.1f)" % (
            a.records, a.runs, statistics.median(x for x, _ in results),
            statistics.median(m for _, m in results), max(m for _, m in results)))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
