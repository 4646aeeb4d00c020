#!/usr/bin/env python3
"""End-to-end ingest benchmark: replays real SocketHandler frames (made by CPython's own
makePickle, see make_frames.py) over TCP into `logtui record`, and into the logging cookbook's
socket receiver writing to SQLite in 500-row batches, alternating runs, and reports medians.

A run's clock starts when the first byte is sent and stops when the last record is committed,
covered by the block index and found by a search. Peak RSS is the receiver's VmHWM.

With `--compare OTHER`, runs of a second logtui binary (say, the previous build) alternate
with this build's, so both are measured side by side in one session on a noisy machine.

Usage: python3 benches/ingest.py [--records N] [--runs R] [--skip-baseline] [--compare BIN]
"""
import argparse
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "target", "release", "logtui")


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def wait_count(db, table, n, proc, limit=300):
    """Polls the store until `n` rows are committed; returns the time they were.

    Asks for max(rowid), a single B-tree descent, not count(*): on a 2-core machine a
    count(*) every 5 ms scans the whole table and takes a core from the receiver. Rows get
    rowids 1, 2, ... in arrival order and nothing deletes them, so max(rowid) is the count.
    """
    deadline = time.time() + limit
    conn = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("receiver died: exit %s" % proc.returncode)
        try:
            if conn is None and os.path.exists(db):
                conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=1)
            if conn is not None:
                c = conn.execute("SELECT coalesce(max(rowid), 0) FROM %s" % table).fetchone()[0]
                if c >= n:
                    t = time.time()
                    conn.close()
                    return t
        except sqlite3.OperationalError:
            conn = None
        time.sleep(0.005)
    raise SystemExit("timed out waiting for %d rows in %s" % (n, table))


MARKER_WORD = "benchmarkendmarker"


def marker_frame():
    """One more frame, made by makePickle, that every run sends last on the same connection."""
    code = ("import logging, logging.handlers, sys\n"
            "h = logging.handlers.SocketHandler('127.0.0.1', 9)\n"
            "r = logging.makeLogRecord({'name': 'bench', 'msg': 'the %s record', 'args': ('" + MARKER_WORD + "',),"
            " 'levelno': 20, 'levelname': 'INFO'})\n"
            "sys.stdout.buffer.write(h.makePickle(r))\n")
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout


def send(addr, frames, repeat, marker):
    """Writes the frames `repeat` times and then the marker, as one SocketHandler stream."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        for _ in range(repeat):
            s.sendall(frames)
        s.sendall(marker)


def indexed(db, n, proc, limit=300):
    """Waits until the block index covers record `n`: a search finds stored records even
    before they are indexed (it reads what the index lacks), so this is checked apart."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("logtui died")
        try:
            conn = sqlite3.connect("file:%s-index?mode=ro" % db, uri=True, timeout=1)
            m = conn.execute("SELECT indexed_max FROM index_state").fetchone()[0]
            conn.close()
            if m >= n:
                return time.time()
        except (sqlite3.OperationalError, TypeError):
            pass
        time.sleep(0.005)
    raise SystemExit("the index never covered record %d" % n)


def searchable(db, proc, binary, limit=300):
    """Waits until `logtui query` finds the marker by searching for its word."""
    deadline = time.time() + limit
    while time.time() < deadline:
        out = subprocess.run([binary, "query", "--db", db, "--count", "--search", MARKER_WORD],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == "1":
            return time.time()
        if proc.poll() is not None:
            raise SystemExit("logtui died")
        time.sleep(0.005)
    raise SystemExit("the marker never became searchable")


def run_logtui(frames, repeat, n, binary=BIN):
    d = tempfile.mkdtemp(prefix="logtui-bench-")
    db = os.path.join(d, "bench.db")
    proc = subprocess.Popen(
        [binary, "record", "--db", db, "--tcp", "127.0.0.1:0", "--udp", "off", "--http", "off", "--redis", "off"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    line = proc.stderr.readline()
    m = re.search(r"tcp (\S+)", line)
    if not m:
        raise SystemExit("logtui did not start: %r" % line)
    addr = m.group(1).rstrip(",")
    data, marker = frames
    t0 = time.time()
    send(addr, data, repeat, marker)
    wait_count(db, "records", n + 1, proc)
    indexed(db, n + 1, proc)
    t1 = searchable(db, proc, binary)
    rss = peak_rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    return (n + 1) / (t1 - t0), rss


def run_cookbook(frames, repeat, n):
    d = tempfile.mkdtemp(prefix="cookbook-bench-")
    db = os.path.join(d, "bench.db")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "cookbook_receiver.py"), db],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().split()[-1])
    data, marker = frames
    t0 = time.time()
    send("127.0.0.1:%d" % port, data, repeat, marker)
    t1 = wait_count(db, "log", n + 1, proc)
    rss = peak_rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return n / (t1 - t0), rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--compare", metavar="BIN", help="another logtui binary, run alternately")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    chunk = 100_000 if a.records >= 100_000 else a.records
    repeat = max(1, a.records // chunk)
    n = chunk * repeat
    path = os.path.join(tempfile.mkdtemp(prefix="frames-"), "frames.bin")
    subprocess.run([sys.executable, os.path.join(HERE, "make_frames.py"), path, str(chunk)], check=True)
    with open(path, "rb") as f:
        frames = (f.read(), marker_frame())
    results = {"logtui": [], "compared": [], "cookbook": []}
    for i in range(a.runs):
        rate, rss = run_logtui(frames, repeat, n)
        results["logtui"].append((rate, rss))
        print("run %d logtui   %10.0f records/s  peak RSS %6.1f MB" % (i + 1, rate, rss), flush=True)
        if a.compare:
            rate, rss = run_logtui(frames, repeat, n, a.compare)
            results["compared"].append((rate, rss))
            print("run %d compared %10.0f records/s  peak RSS %6.1f MB" % (i + 1, rate, rss), flush=True)
        if not a.skip_baseline:
            rate, rss = run_cookbook(frames, repeat, n)
            results["cookbook"].append((rate, rss))
            print("run %d cookbook %10.0f records/s  peak RSS %6.1f MB" % (i + 1, rate, rss), flush=True)
    print()
    print("%d records of %d bytes on average, %d runs, medians:" % (n, len(frames[0]) // chunk, a.runs))
    med = {}
    for k, v in results.items():
        if v:
            med[k] = statistics.median(r for r, _ in v)
            print("  %-8s %10.0f records/s   peak RSS %6.1f MB" % (k, med[k], statistics.median(m for _, m in v)))
    for other in ("compared", "cookbook"):
        if other in med:
            print("  logtui / %s = %.2fx" % (other, med["logtui"] / med[other]))


if __name__ == "__main__":
    main()
