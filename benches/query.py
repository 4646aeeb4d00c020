#!/usr/bin/env python3
"""Lookup benchmark: fills a store through `logtui record` with real SocketHandler frames
(the ingest benchmark's), then times `logtui query` lookups by word, logger, level, time,
and the newest-first view, each with the block index and with the index file moved aside
(every record read), alternating, and reports medians and the ratio.

Usage: python3 benches/query.py [--records N] [--runs R]
"""
import argparse
import datetime
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ingest  # noqa: E402  (shares the frame maker, sender and waits)


def fill(n_chunk, repeat):
    path = os.path.join(tempfile.mkdtemp(prefix="frames-"), "frames.bin")
    subprocess.run([sys.executable, os.path.join(HERE, "make_frames.py"), path, str(n_chunk)],
                   check=True)
    with open(path, "rb") as f:
        data = f.read()
    db = os.path.join(tempfile.mkdtemp(prefix="logtui-query-"), "q.db")
    proc = subprocess.Popen(
        [ingest.BIN, "record", "--db", db, "--tcp", "127.0.0.1:0", "--udp", "off", "--http", "off", "--redis", "off"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    addr = re.search(r"tcp (\S+)", proc.stderr.readline()).group(1).rstrip(",")
    n = n_chunk * repeat
    ingest.send(addr, data, repeat, ingest.marker_frame())
    ingest.wait_count(db, "records", n + 1, proc)
    ingest.indexed(db, n + 1, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    return db


def pick_terms(db):
    """A word that occurs once per replayed chunk (an order id), read from the store."""
    c = sqlite3.connect(db)
    msg = c.execute("SELECT message FROM records WHERE message LIKE 'checkout failed%' LIMIT 1").fetchone()[0]
    t0, t1 = c.execute("SELECT min(created), max(created) FROM records").fetchone()
    c.close()
    return msg.split()[-1], t0, t1


def move_files(src, dst):
    """Moves a database file and its WAL companions, where they exist."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(src + suffix):
            os.rename(src + suffix, dst + suffix)


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timed(args):
    t = time.perf_counter()
    out = subprocess.run([ingest.BIN, "query"] + args, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit("query failed: %s" % out.stderr)
    return dt, out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ingest.ROOT, check=True)
    chunk = min(100_000, a.records)
    db = fill(chunk, max(1, a.records // chunk))
    order_id, t0, t1 = pick_terms(db)
    mid = t0 + (t1 - t0) / 2
    window = (t1 - t0) / 100
    base = ["--db", db]
    cases = [
        ("word in 1 of 100k records", ["--search", order_id, "--count"]),
        ("phrase in 10% of records", ["--search", "slow query", "--count"]),
        ("logger, 2% of records", ["--logger", "app.payments", "--count"]),
        ("level >= ERROR", ["--level", "ERROR", "--count"]),
        ("1% time window", ["--since", rfc3339(mid), "--until", rfc3339(mid + window), "--count"]),
        ("newest 100", ["--order", "desc", "--limit", "100"]),
        ("newest 100 at ERROR", ["--level", "ERROR", "--order", "desc", "--limit", "100"]),
        ("logger+word, newest 20", ["--logger", "app.*", "--search", "checkout", "--order", "desc", "--limit", "20"]),
    ]
    index = db + "-index"
    hidden = db + "-index.aside"
    results = []
    for name, args in cases:
        with_idx, without = [], []
        outs = set()
        for _ in range(a.runs):
            for times, src, dst in ((with_idx, hidden, index), (without, index, hidden)):
                move_files(src, dst)
                dt, out = timed(base + args)
                times.append(dt)
                outs.add(out)
        move_files(hidden, index)
        if len(outs) != 1:
            raise SystemExit("%s: the index changed the answer" % name)
        results.append((name, statistics.median(with_idx), statistics.median(without),
                        out.strip().splitlines()[0][:40] if out.strip() else ""))
    n = sqlite3.connect(db).execute("SELECT count(*) FROM records").fetchone()[0]
    print("%d records; medians of %d runs of `logtui query`, whole process:" % (n, a.runs))
    print("  %-26s %12s %12s %8s   %s" % ("lookup", "index", "no index", "ratio", "answer"))
    for name, w, wo, ans in results:
        print("  %-26s %10.1f ms %10.1f ms %7.1fx   %s" % (name, w * 1e3, wo * 1e3, wo / w, ans))


if __name__ == "__main__":
    main()
