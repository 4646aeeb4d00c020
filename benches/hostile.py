#!/usr/bin/env python3
"""Hostile-input benchmark: each attack class against the real `logtui record`, with the peak
RSS, the time until the next valid record (sent by a real SocketHandler or HTTPHandler on a new
connection while the attack is still under way) is stored, and how SIGTERM ends it.

For every scenario a fresh recorder starts on free loopback ports; the attack starts and is
kept up (connections stay open, bombs are in flight); then one valid WARNING record (flushed at
once by the default flush level) is sent and the store is polled until it holds it; then
SIGTERM, and the clock runs until the process exits. A recorder that does not store the record
within --patience seconds, or does not exit within --patience seconds of SIGTERM, is reported
as such and killed.

With `--compare BIN` every scenario also runs against a second binary (say, the previous build),
alternating, so the two are measured side by side.

Usage: python3 benches/hostile.py [--bin PATH] [--compare BIN] [--runs R] [--only NAME,...]
"""
import argparse
import logging
import logging.handlers
import os
import pickle
import re
import resource
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "target", "release", "logtui")
DRAIN = 2.0


def peak_rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


class Recorder:
    """One `logtui record` on free loopback ports with a store in a temp dir."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="logtui-hostile-")
        self.db = os.path.join(self.dir, "h.db")
        self.proc = subprocess.Popen(
            [binary, "record", "--db", self.db, "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0",
             "--http", "127.0.0.1:0", "--redis", "off", "--drain-timeout", str(DRAIN)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env=dict(os.environ, XDG_CONFIG_HOME=self.dir))
        line = self.proc.stderr.readline()
        found = dict(re.findall(r"(tcp|udp|http) (127\.0\.0\.1:\d+)", line))
        if len(found) != 3:
            raise SystemExit("logtui did not start: %r" % line)
        self.addr = {k: (v.split(":")[0], int(v.split(":")[1])) for k, v in found.items()}
        # Keep reading stderr so a chatty recorder never blocks on a full pipe.
        self.err = []
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True).start()

    def stored(self, word):
        """How many records carry `word` in their message (0 while the store is not there)."""
        try:
            c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=1)
            try:
                return c.execute("SELECT count(*) FROM records WHERE message LIKE ?",
                                 ("%" + word + "%",)).fetchone()[0]
            finally:
                c.close()
        except sqlite3.Error:
            return 0


# ---------------------------------------------------------------------------------------------
# Attacks. Each takes the recorder's addresses and returns a stop function; it may start threads.
# ---------------------------------------------------------------------------------------------

def frame_of(d):
    p = pickle.dumps(d, 1)
    return struct.pack(">L", len(p)) + p


def bomb_record(msg, args):
    r = logging.makeLogRecord({"name": "bomb", "msg": msg, "args": args, "levelno": 20,
                               "levelname": "INFO"})
    d = dict(r.__dict__)
    d["msg"], d["args"] = msg, args
    return d


def http_post(addr, body, ctype="application/x-www-form-urlencoded", timeout=600):
    """Sends one request on its own thread and leaves it in flight."""
    def go():
        try:
            s = socket.create_connection(addr, timeout=timeout)
            s.sendall(("POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                       "Content-Length: %d\r\n\r\n" % (ctype, len(body))).encode() + body)
            s.recv(100)
            s.close()
        except OSError:
            pass
    threading.Thread(target=go, daemon=True).start()


def nothing(addr):
    return lambda: None


def http_repeat_bomb(addr):
    # HTTPHandler sends the template and repr(args): `%(a).0s` a million times over a 4 MB value.
    form = {"name": "bomb", "levelno": "20", "levelname": "INFO", "created": "1",
            "msg": "%(a).0s" * 500_000, "args": repr({"a": "x" * 4_000_000})}
    http_post(addr["http"], urllib.parse.urlencode(form).encode())
    return lambda: None


def http_get_spec_bombs(addr):
    for msg, args in (("%.16777216g", "(1.5,)"), ("%999999999d", "(7,)"), ("%*d", "(999999999, 7)")):
        q = urllib.parse.urlencode({"name": "bomb", "levelno": "20", "msg": msg, "args": args})
        def go(q=q):
            try:
                s = socket.create_connection(addr["http"], timeout=600)
                s.sendall(("GET /log?%s HTTP/1.1\r\nHost: x\r\n\r\n" % q).encode())
                s.recv(100)
                s.close()
            except OSError:
                pass
        threading.Thread(target=go, daemon=True).start()
    return lambda: None


def tcp_pickle_bomb(addr):
    s = socket.create_connection(addr["tcp"])
    s.sendall(frame_of(bomb_record("%(a).0s" * 1_000_000, {"a": "x" * 4_000_000})))
    return s.close


def udp_bombs(addr):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keys = {"k%d" % i: i for i in range(2000)}
    for d in (bomb_record("%(k1999)d" * 2000, keys), bomb_record("%.16777216g", (1.5,)),
              bomb_record("%999999999d" * 100, tuple(range(100)))):
        data = frame_of(d)
        if len(data) < 65000:
            u.sendto(data, addr["udp"])
    return u.close


def json_tiny_values(addr):
    http_post(addr["http"], b"1 " * 8_000_000, "application/json")
    return lambda: None


def idle_flood(addr, n=300, trickle=20):
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(addr["tcp"]))
    stop = threading.Event()
    # A few trickling senders: a length prefix byte by byte, one byte a second.
    def trickler(s):
        frame = frame_of(bomb_record("never finished", None))
        for b in frame:
            if stop.wait(1.0):
                return
            try:
                s.send(bytes([b]))
            except OSError:
                return
    for _ in range(trickle):
        s = socket.create_connection(addr["tcp"])
        socks.append(s)
        threading.Thread(target=trickler, args=(s,), daemon=True).start()

    def close():
        stop.set()
        for s in socks:
            s.close()
    return close


def http_keepalive_flood(addr, n=1100):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(addr["http"], timeout=5))
        except OSError:
            break
    return lambda: [s.close() for s in socks]


def big_frame(addr):
    s = socket.create_connection(addr["tcp"])
    d = bomb_record("big " + "y" * (16 * 1024 * 1024 - 4096), None)
    data = frame_of(d)
    def go():
        try:
            s.sendall(data)
        except OSError:
            pass
    threading.Thread(target=go, daemon=True).start()
    # A steady stream of small records beside it.
    small = socket.create_connection(addr["tcp"])
    stop = threading.Event()
    one = frame_of(bomb_record("small beside the big one", None))
    def stream():
        while not stop.is_set():
            try:
                small.sendall(one * 100)
            except OSError:
                return
            stop.wait(0.01)
    threading.Thread(target=stream, daemon=True).start()
    return lambda: (stop.set(), s.close(), small.close())


SCENARIOS = [
    ("none (baseline)", nothing, "tcp"),
    ("HTTP POST: `%(a).0s` ×500k over a 4 MB arg", http_repeat_bomb, "tcp"),
    ("HTTP GET: `%.16777216g`, `%999999999d`, `%*d`", http_get_spec_bombs, "tcp"),
    ("TCP pickle: `%(a).0s` ×1M over a 4 MB arg", tcp_pickle_bomb, "tcp"),
    ("UDP pickles: 2,000 lookups in a 2,000-key dict, spec bombs", udp_bombs, "tcp"),
    ("HTTP JSON: 16 MB body of `1 1 1 …`", json_tiny_values, "tcp"),
    ("TCP: 300 idle + 20 trickling connections", idle_flood, "tcp"),
    ("HTTP: 1,100 idle keep-alive connections", http_keepalive_flood, "http"),
    ("TCP: 16 MiB frame beside a stream of small records", big_frame, "tcp"),
]


def send_valid(addr, via, word):
    log = logging.getLogger("hostile.valid.%s" % word)
    log.propagate = False
    if via == "http":
        h = logging.handlers.HTTPHandler("%s:%d" % addr["http"], "/log", method="POST")
    else:
        h = logging.handlers.SocketHandler(*addr["tcp"])
    log.addHandler(h)
    log.warning("valid record %s", word)
    h.close()


class PeakRss:
    """Samples VmHWM until the process ends: the peak may come after the valid record."""

    def __init__(self, pid):
        self.peak = 0.0
        self.pid = pid
        self.done = threading.Event()
        self.t = threading.Thread(target=self.sample, daemon=True)
        self.t.start()

    def sample(self):
        while not self.done.is_set():
            v = peak_rss_mb(self.pid)
            if v == v:
                self.peak = max(self.peak, v)
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.t.join()
        return self.peak


def run(binary, attack, via, patience):
    rec = Recorder(binary)
    peak = PeakRss(rec.proc.pid)
    stop = attack(rec.addr)
    word = "marker%d" % time.monotonic_ns()
    t0 = time.monotonic()
    # A handler sends once; if the recorder cannot take the connection yet, send again.
    sent = threading.Thread(target=send_valid, args=(rec.addr, via, word), daemon=True)
    sent.start()
    stored_after = None
    while time.monotonic() - t0 < patience:
        if rec.stored(word):
            stored_after = time.monotonic() - t0
            break
        if rec.proc.poll() is not None:
            break
        time.sleep(0.005)
    t1 = time.monotonic()
    rec.proc.send_signal(signal.SIGTERM)
    try:
        code = rec.proc.wait(timeout=patience)
        exited = time.monotonic() - t1
    except subprocess.TimeoutExpired:
        rec.proc.kill()
        rec.proc.wait()
        code, exited = "killed", None
    rss = peak.stop()
    stop()
    return stored_after, rss, exited, code


def fmt_secs(v, patience, scale=1000.0, unit="ms"):
    if v is None:
        return "not within %d s" % patience
    return "%.0f %s" % (v * scale, unit) if scale != 1 else "%.2f s" % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=BIN)
    ap.add_argument("--compare", metavar="BIN")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--patience", type=float, default=30.0)
    ap.add_argument("--only", help="comma-separated scenario numbers (1-based)")
    a = ap.parse_args()
    # A handler that cannot deliver (the recorder under attack) must not print a traceback.
    logging.raiseExceptions = False
    if a.bin == BIN:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    picked = SCENARIOS
    if a.only:
        picked = [SCENARIOS[int(i) - 1] for i in a.only.split(",")]
    bins = [("this build", a.bin)] + ([("compared", a.compare)] if a.compare else [])
    rows = []
    for name, attack, via in picked:
        res = {b: [] for b, _ in bins}
        for i in range(a.runs):
            for label, binary in bins:
                r = run(binary, attack, via, a.patience)
                res[label].append(r)
                print("%-58s %-10s run %d: stored after %s, peak RSS %.0f MB, exit %s after %s" % (
                    name, label, i + 1, fmt_secs(r[0], a.patience), r[1], r[3],
                    fmt_secs(r[2], a.patience, 1, "s")), flush=True)
        rows.append((name, res))
    print()
    print("Drain timeout %.0f s; medians of %d runs." % (DRAIN, a.runs))
    print()
    head = "| attack | build | next valid record stored after | peak RSS | SIGTERM → exit | exit code |"
    print(head)
    print("|---|---|---|---|---|---|")
    for name, res in rows:
        for label, rs in res.items():
            def med(vals):
                return statistics.median(vals) if len(vals) == len(rs) else None
            stored = med([r[0] for r in rs if r[0] is not None])
            exited = med([r[2] for r in rs if r[2] is not None])
            rss = statistics.median(r[1] for r in rs)
            codes = sorted(set(str(r[3]) for r in rs))
            print("| %s | %s | %s | %.0f MB | %s | %s |" % (
                name, label, fmt_secs(stored, a.patience), rss,
                fmt_secs(exited, a.patience, 1, "s"), "/".join(codes)))


if __name__ == "__main__":
    main()
