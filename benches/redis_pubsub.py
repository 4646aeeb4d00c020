#!/usr/bin/env python3
"""Redis pub/sub benchmark: how fast logtui stores Smarter-style double publishes, side by side
with what the publisher alone and `redis-cli psubscribe` manage on the same machine and server.

Each run, on a redis-server of its own (a free loopback port, nothing on disk):
  publisher  a pipelined redis-py publisher alone (no subscriber): N records, each PUBLISHed on
             logs:job_<k> and again on logs:global, Smarter's JSON (indent=2, ensure_ascii);
  redis-cli  the same publish while `redis-cli psubscribe 'logs:*'` reads it: until it printed
             all 2N messages;
  logtui     the same publish while `logtui record --redis …` stores it: until its stats line
             says all N records are stored (each pair stored once) and none was dropped.
Reports each one's messages per second (2N / time from the first PUBLISH to the last message
handled), median of --runs runs, and how long after the publisher's last PUBLISH logtui read
the last message (near zero: logtui kept up, the publisher set the pace), and the CPU time each
subscriber used (taken from the publisher and Redis on a machine they share).

  python3 -m pip install redis hiredis   # without hiredis the publisher is about half as fast
  python3 benches/redis_pubsub.py --records 200000 --runs 3
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "logtui")

# The publisher: every record twice, job channel first, pipelined 2000 commands at a time.
PUBLISHER = r"""
import json, sys, time, redis
port, n = int(sys.argv[1]), int(sys.argv[2])
r = redis.Redis(port=port)
payloads = [json.dumps({"message": "[2026-11-25 00:03:38] INFO bench record %d for Zo\u00eb" % i,
                        "level": "INFO", "timestamp": 1795565018.0 + i / 1e6,
                        "logger": "smarter.apps.bench", "pod": "bench"}, indent=2, ensure_ascii=True)
            for i in range(n)]
r.ping()
start = time.time()
p = r.pipeline(transaction=False)
for i, d in enumerate(payloads):
    p.publish("logs:job_%d" % (i % 64), d)
    p.publish("logs:global", d)
    if len(p) >= 2000:
        p.execute()
p.execute()
print(start, time.time(), flush=True)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="logtui-redis-bench-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.time() > deadline:
                sys.exit("redis-server did not start")
            time.sleep(0.02)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def subscribers(self):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "pubsub", "numpat"],
                             capture_output=True, text=True).stdout
        return int(out.strip() or 0)


def publish(port, n):
    """Runs the publisher; returns (start, end) epoch seconds of its PUBLISHes."""
    out = subprocess.run([sys.executable, "-c", PUBLISHER, str(port), str(n)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def cpu_seconds(pid):
    """User plus system CPU time a process has used so far (Linux /proc)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait(what, cond, limit=600):
    deadline = time.time() + limit
    while not cond():
        if time.time() > deadline:
            sys.exit("timed out waiting for " + what)
        time.sleep(0.005)


def run_publisher(srv, n):
    start, end = publish(srv.port, n)
    return 2 * n / (end - start)


def run_redis_cli(srv, n):
    cli = subprocess.Popen(["redis-cli", "-p", str(srv.port), "psubscribe", "logs:*"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen, done = [0], [None]

    def read():
        for line in cli.stdout:
            if line == b"pmessage\n":
                seen[0] += 1
                if seen[0] == 2 * n:
                    done[0] = time.time()
                    return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    wait("redis-cli to subscribe", lambda: srv.subscribers() == 1, 10)
    start, _ = publish(srv.port, n)
    t.join(600)
    CPU["redis-cli"].append(cpu_seconds(cli.pid))
    cli.kill()
    cli.wait()
    if done[0] is None:
        sys.exit("redis-cli saw %d of %d messages" % (seen[0], 2 * n))
    return 2 * n / (done[0] - start)


def run_logtui(srv, n):
    d = tempfile.mkdtemp(prefix="logtui-redis-bench-db-")
    proc = subprocess.Popen(
        [BIN, "record", "--db", os.path.join(d, "b.db"), "--tcp", "off", "--udp", "off",
         "--http", "off", "--redis", "redis://127.0.0.1:%d" % srv.port, "--stats-interval", "0.05"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, XDG_CONFIG_HOME=d))
    last = {"stored": 0, "state": "", "dropped": None, "at": 0.0, "received_at": None}
    pat = re.compile(r"  redis (\d+)/(\d+)/.*  redis (\w+) (\d+)/(\d+)/(\d+)/(\d+)/(\d+) ")

    def read():
        for line in proc.stderr:
            m = pat.search(line)
            if m:
                now = time.time()
                if int(m.group(1)) >= n and last["received_at"] is None:
                    last["received_at"] = now
                last.update(stored=int(m.group(2)), state=m.group(3), dropped=int(m.group(7)),
                            at=now)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    wait("logtui to subscribe", lambda: last["state"] == "subscribed", 30)
    start, published = publish(srv.port, n)
    wait("logtui to store every record", lambda: last["stored"] >= n or last["dropped"])
    end = last["at"]
    CPU["logtui"].append(cpu_seconds(proc.pid))
    proc.terminate()
    proc.wait(60)
    shutil.rmtree(d, ignore_errors=True)
    if last["dropped"]:
        sys.exit("logtui dropped %d messages" % last["dropped"])
    if last["stored"] != n:
        sys.exit("logtui stored %d of %d records" % (last["stored"], n))
    RECEIVED.append(2 * n / (last["received_at"] - start))
    LAG.append(last["received_at"] - published)
    return 2 * n / (end - start)


# logtui's rate to the last record read and decoded (keeping up with the publisher), beside the
# rate to the last one stored, which adds the store's final flush (at most --flush-interval, 1 s).
RECEIVED = []
# How long after the publisher's last PUBLISH returned logtui had read the last message (within
# the stats interval, 0.05 s): near zero when logtui keeps up, and what a backlog would grow.
LAG = []
# CPU seconds each subscriber used for the run (what it took from the publisher and Redis on a
# machine they share).
CPU = {"redis-cli": [], "logtui": []}


def main():
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--records", type=int, default=200_000)
    a.add_argument("--runs", type=int, default=3)
    a.add_argument("--no-build", action="store_true")
    a.add_argument("--bin", help="the logtui to run (default: target/release/logtui, built first)")
    o = a.parse_args()
    global BIN
    if o.bin:
        BIN = o.bin
    elif not o.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    rates = {"publisher": [], "redis-cli": [], "logtui": []}
    srv = Server()
    try:
        for i in range(o.runs):
            for name, f in (("publisher", run_publisher), ("redis-cli", run_redis_cli),
                            ("logtui", run_logtui)):
                r = f(srv, o.records)
                rates[name].append(r)
                print("run %d %-10s %10.0f msgs/s" % (i + 1, name, r), flush=True)
    finally:
        srv.stop()
    print("%d records × 2 channels (%d messages); medians of %d runs:"
          % (o.records, 2 * o.records, o.runs))
    print("  %-44s %10.0f msgs/s" % ("logtui record reading and decoding every one",
                                     statistics.median(RECEIVED)))
    print("  %-44s %10.3f s" % ("logtui's last read after the last PUBLISH",
                                statistics.median(LAG)))
    for who, v in CPU.items():
        print("  %-44s %10.2f s" % ("CPU used by " + who, statistics.median(v)))
    for name, v in rates.items():
        print("  %-44s %10.0f msgs/s" % ({
            "publisher": "pipelined redis-py publisher alone",
            "redis-cli": "redis-cli psubscribe 'logs:*' keeping up",
            "logtui": "logtui record storing every record (last flush included)",
        }[name], statistics.median(v)))


if __name__ == "__main__":
    main()
