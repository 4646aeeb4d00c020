#!/usr/bin/env python3
"""UI benchmark, as a person sees it: keystroke -> the screen shows the answer.

Fills a store with N real SocketHandler frames (make_frames.py) through `logtui record`, with
three unique "needle" records at the oldest, middle and newest positions, then drives the
release binary in a 200x60 pseudo-terminal whose output feeds a real vt100 screen model
(pyte). Each time runs from writing the keys to the first read after which the screen holds
the text that proves the answer (the needle's word, a highlighted match, a pane title).

Measured (medians of --runs):
  view: spawn `logtui view` -> newest needle on screen;  `g` -> oldest;  `G` -> newest again;
        `/RARE` Enter -> the middle needle on screen (with `N` when `/` from the tail finds
        nothing forward);  `/COMMON` Enter -> a highlighted match on screen;  the filter
        `f COMMON` Enter -> the title's progressive count shows its first figure above zero
        (`≥N…`) and then its final one (`N matches`, checked against `logtui query --search
        COMMON --count`); peak RSS (VmHWM).
  lnav: the same records as a text file (`logtui query --format table`): spawn -> newest line
        on screen;  `/RARE` Enter -> the middle needle on screen; peak RSS.
  live: `logtui` (UI + listeners) fed 100,000 records/s over TCP for --live-seconds:
        `4` -> title shows level>=ERROR with the page read, `1` -> back, during the flood;
        every record stored; ingest rate against headless `logtui record` on the same feed,
        alternating runs.
The store is kept under target/ui-bench/ keyed by size, so later runs skip the fill.
Caveats: the screen model is Python and shares the machine's cores with the UI under test,
so a time includes parsing the frame that carried the answer (about a millisecond for a
full 200x60 redraw); it never flatters the UI.

Usage: python3 benches/ui.py [--records N] [--runs R] [--skip-lnav] [--skip-live]
                             [--live-rate 100000] [--live-seconds 10] [--no-build] [--binary BIN]
"""
import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "target", "release", "logtui")
CACHE = os.path.join(ROOT, "target", "ui-bench")
COLS, ROWS = 200, 60

try:
    import pyte
except ImportError:
    sys.exit("benches/ui.py needs pyte, a vt100 screen model: pip install pyte")

# Unique words: each occurs in exactly one record of the store.
NEEDLES = {"oldest": "zqxoldestneedle", "middle": "zqxmiddleneedle", "newest": "zqxnewestneedle"}
# The commonest word of make_frames.py's mix: the path of one HTTP request in three
# ("GET /api/v1/orders 200 12.3ms"); no single word is in most records.
COMMON = "api"
TIMEOUT = 120.0


# ---------------------------------------------------------------------------------------------
# Filling the store


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored(db):
    """max(rowid) of the store: one B-tree descent (count(*) would scan 10 million rows)."""
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=1)
        try:
            return c.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
        finally:
            c.close()
    except sqlite3.OperationalError:
        return 0


# The pane title's match count: `≥N…` while the counter reads, `N matches` once it is done.
COUNT_PARTIAL = re.compile(r"≥([1-9][0-9]*)…")
COUNT_FINAL = re.compile(r"\b([0-9]+) matches\b")


def searched(db, word):
    """What `logtui query --search word --count` finds: what the pane's count must reach."""
    out = subprocess.run([BIN, "query", "--db", db, "--search", word, "--count"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def counted(db):
    """The records `logtui query --count` finds: logtui's own internal records left out
    (max(rowid) counts them too)."""
    out = subprocess.run([BIN, "query", "--db", db, "--count"], capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def wait_stored(db, n, proc, limit=3600):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("the recorder died: exit %s" % proc.returncode)
        if stored(db) >= n:
            return time.time()
        time.sleep(0.01)
    raise SystemExit("timed out waiting for %d records in %s" % (n, db))


def wait_indexed(db, n, proc, limit=3600):
    """The block index covers record n: `view`'s searches lean on it."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the recorder died: exit %s" % proc.returncode)
        try:
            c = sqlite3.connect("file:%s-index?mode=ro" % db, uri=True, timeout=1)
            m = c.execute("SELECT indexed_max FROM index_state").fetchone()[0]
            c.close()
            if m is not None and m >= n:
                return
        except (sqlite3.OperationalError, TypeError):
            pass
        time.sleep(0.02)
    raise SystemExit("the index never covered record %d" % n)


def make_frames(path, n):
    subprocess.run([sys.executable, os.path.join(HERE, "make_frames.py"), path, str(n)],
                   check=True, stdout=subprocess.DEVNULL)


def proof(which):
    """The needle's message: on screen only as a record (a prompt or title shows the word)."""
    return "needle %s %s" % (which, NEEDLES[which])


def emit_needle(addr, which):
    msg = proof(which) + "\n"
    subprocess.run([BIN, "emit", "--tcp", addr, "--stdin", "--logger", "bench.needle",
                    "--level", "WARNING"], input=msg, text=True, check=True,
                   stderr=subprocess.DEVNULL)


def recorder(db, port):
    return subprocess.Popen(
        [BIN, "record", "--db", db, "--tcp", "127.0.0.1:%d" % port, "--udp", "off",
         "--http", "off", "--redis", "off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_listening(port, proc, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the listener died at start: exit %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit("nothing listens on port %d" % port)


def build_store(n):
    """Returns (db, frames file, records): reused when a complete store of n is cached."""
    d = os.path.join(CACHE, "store-%d" % n)
    db = os.path.join(d, "ui.db")
    frames = os.path.join(d, "frames.bin")
    done = os.path.join(d, "complete")
    # At least two passes, so the middle needle sits between them.
    chunk = min(100_000, max(1, n // 2))
    repeat = max(2, n // chunk)
    total = chunk * repeat + 3
    if os.path.exists(done):
        return db, frames, total
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    make_frames(frames, chunk)
    port = free_port()
    proc = recorder(db, port)
    wait_listening(port, proc)
    addr = "127.0.0.1:%d" % port
    t0 = time.time()
    # Each part waits for the one before to be stored, so the needles land where they should.
    emit_needle(addr, "oldest")
    wait_stored(db, 1, proc)
    have = 1
    for count, needle in ((repeat // 2, "middle"), (repeat - repeat // 2, "newest")):
        subprocess.run([BIN, "emit", "--tcp", addr, "--replay", frames, "--count", str(count)],
                       check=True, stderr=subprocess.DEVNULL)
        have += count * chunk
        wait_stored(db, have, proc)
        emit_needle(addr, needle)
        have += 1
        wait_stored(db, have, proc)
    wait_indexed(db, have, proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    out = subprocess.run([BIN, "query", "--db", db, "--count"], capture_output=True,
                         text=True, check=True).stdout.strip()
    if int(out) != total:
        raise SystemExit("the store holds %s records, expected %d" % (out, total))
    print("filled %s: %d records in %.1f s" % (db, total, time.time() - t0), flush=True)
    open(done, "w").close()
    return db, frames, total


def text_export(db, n):
    """The same records as a text log, one line each, for lnav (made once per size)."""
    path = os.path.join(CACHE, "store-%d" % n, "ui.log")
    if not os.path.exists(path):
        with open(path + ".part", "w") as f:
            subprocess.run([BIN, "query", "--db", db, "--format", "table", "--utc"], stdout=f,
                           check=True)
        os.rename(path + ".part", path)
    return path


# ---------------------------------------------------------------------------------------------
# A program in a pseudo-terminal, seen through pyte


class Screen(pyte.Screen):
    """A pyte screen that answers the terminal's queries (cursor position, attributes)
    through the pty, as a terminal would."""

    def __init__(self, cols, rows, reply):
        super().__init__(cols, rows)
        self._reply = reply

    def write_process_input(self, data):
        self._reply(data.encode())


class Pty:
    def __init__(self, argv, env):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.screen = Screen(COLS, ROWS, lambda b: os.write(self.fd, b))
        self.stream = pyte.ByteStream(self.screen)
        self.closed = False

    def pump(self, timeout):
        """Reads what is there (waiting up to `timeout`) into the screen; False at EOF."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.stream.feed(data)
        return True

    def text(self):
        return "\n".join(self.screen.display)

    def wait(self, pred, what, t0=None, limit=TIMEOUT):
        """Time from t0 (default now) to the first read after which pred(self) holds."""
        t0 = time.perf_counter() if t0 is None else t0
        while not pred(self):
            if time.perf_counter() - t0 > limit:
                raise SystemExit("timed out after %.0f s waiting for %s; the screen:\n%s"
                                 % (limit, what, self.text()))
            if not self.pump(0.5) or self.closed:
                raise SystemExit("the program ended while waiting for %s; the screen:\n%s"
                                 % (what, self.text()))
        return time.perf_counter() - t0

    def keys(self, data, pred, what):
        self.drain()
        t0 = time.perf_counter()
        os.write(self.fd, data.encode())
        return self.wait(pred, what, t0)

    def drain(self, quiet=0.05):
        """Reads until the program has been quiet for `quiet` seconds."""
        end = time.perf_counter() + quiet
        while time.perf_counter() < end:
            r, _, _ = select.select([self.fd], [], [], quiet)
            if r:
                if not self.pump(0):
                    return
                end = time.perf_counter() + quiet

    def peak_rss_mb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def close(self, quit_keys="q"):
        if not self.closed:
            try:
                os.write(self.fd, quit_keys.encode())
            except OSError:
                pass
        deadline = time.time() + 30
        while time.time() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            self.pump(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def clean_env(tmp):
    env = dict(os.environ)
    for k in ("NO_COLOR", "LOGTUI_LOG", "TMUX"):
        env.pop(k, None)
    env.update(TERM="xterm-256color", HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "config"),
               XDG_DATA_HOME=os.path.join(tmp, "data"), COLUMNS=str(COLS), LINES=str(ROWS))
    return env


def shows(word):
    return lambda p: any(word in line for line in p.screen.display)


def highlighted(word):
    """A run of cells, set apart from its neighbours by its background, that spells `word`
    (the search highlight, whatever the theme's colours)."""
    word = word.lower()

    def pred(p):
        for y in range(ROWS):
            row = p.screen.buffer[y]
            cells = [row[x] for x in range(COLS)]
            x = 0
            while x < COLS:
                bg = cells[x].bg
                end = x
                while end < COLS and cells[end].bg == bg:
                    end += 1
                if x > 0 and end < COLS and end - x == len(word):
                    if "".join(c.data for c in cells[x:end]).lower() == word:
                        return True
                x = end
        return False
    return pred


# ---------------------------------------------------------------------------------------------
# The measurements


def bench_view(db, runs, tmp):
    env = clean_env(tmp)
    res = {k: [] for k in ("open", "oldest", "newest", "rare", "rare_how", "common",
                           "count_first", "count_final", "rss")}
    want = searched(db, COMMON)
    for i in range(runs):
        p = Pty([BIN, "view", "--db", db], env)
        t0 = time.perf_counter()
        res["open"].append(p.wait(shows(proof("newest")), "the newest needle", t0))
        res["oldest"].append(p.keys("g", shows(proof("oldest")), "the oldest needle (g)"))
        res["newest"].append(p.keys("G", shows(proof("newest")), "the newest needle (G)"))
        # As a person does: at the tail, type the search and press Enter.
        t = p.keys("/%s\r" % NEEDLES["middle"],
                   lambda q: shows(proof("middle"))(q) or "no match" in q.text(),
                   "the middle needle (/ Enter)")
        how = "/ Enter"
        if not shows(proof("middle"))(p):
            # `/` searches forward from the selection, and at the tail there is nothing
            # after it: the person then presses N (previous match). Both keys are counted.
            t += p.keys("N", shows(proof("middle")), "the middle needle (N)")
            how = "/ Enter, N"
        res["rare"].append(t)
        res["rare_how"].append(how)
        p.keys("G", shows(proof("newest")), "the newest needle (G)")
        p.keys("\x1b", lambda q: "/" + NEEDLES["middle"] not in q.text(), "the search cleared")
        res["common"].append(p.keys("/%s\r" % COMMON, highlighted(COMMON),
                                    "a highlighted match of %r" % COMMON))
        # The title (the top line) names the search; the records below may hold its text.
        p.keys("\x1b", lambda q: "/" + COMMON not in q.screen.display[0], "the search cleared")
        # The filter prompt: the pane reads the filter's tail and counts its matches on the
        # counter's thread, the title filling in from `≥N…` to `N matches`.
        p.keys("f", lambda q: "filter: " in q.text(), "the filter prompt")
        p.drain()
        t0 = time.perf_counter()
        os.write(p.fd, ("%s\r" % COMMON).encode())
        title = lambda q: q.screen.display[0]
        first = p.wait(lambda q: COUNT_PARTIAL.search(title(q)) or COUNT_FINAL.search(title(q)),
                       "the count's first figure", t0)
        final = p.wait(lambda q: COUNT_FINAL.search(title(q)), "the count's final figure", t0)
        got = int(COUNT_FINAL.search(title(p)).group(1))
        if got != want:
            raise SystemExit("the pane counted %d matches of %r, query --count %d"
                             % (got, COMMON, want))
        res["count_first"].append(first)
        res["count_final"].append(final)
        res["rss"].append(p.peak_rss_mb())
        p.close("\x1b\x1bq")
        print("  view run %d: open %.0f ms, g %.0f ms, G %.0f ms, rare %.0f ms (%s), common %.0f ms,"
              " count first %.0f ms, final %.0f ms (%d), peak RSS %.1f MB"
              % (i + 1, res["open"][-1] * 1e3, res["oldest"][-1] * 1e3,
                 res["newest"][-1] * 1e3, t * 1e3, how, res["common"][-1] * 1e3,
                 first * 1e3, final * 1e3, got, res["rss"][-1]), flush=True)
    return res


def bench_lnav(log, runs, tmp):
    lnav = shutil.which("lnav")
    if not lnav:
        raise SystemExit("lnav is not installed (apt-get install lnav), or pass --skip-lnav")
    version = subprocess.run([lnav, "-V"], capture_output=True, text=True).stdout.strip()
    env = clean_env(tmp)
    res = {"open": [], "rare": [], "rare_how": [], "rss": [], "version": version}
    for i in range(runs):
        p = Pty([lnav, log], env)
        t0 = time.perf_counter()
        res["open"].append(p.wait(shows(proof("newest")), "lnav: the newest needle", t0))
        t = p.keys("/%s\r" % NEEDLES["middle"], lambda q: shows(proof("middle"))(q) or
                   re.search(r"\d+ hits? for", q.text()),
                   "lnav: the middle needle (/ Enter)")
        how = "/ Enter"
        if not shows(proof("middle"))(p):
            # lnav too searches forward from the top of the screen: at the tail it counts
            # the hit ("1 hits for …") and stays. On 10M lines its N did not bring the hit
            # on screen within two minutes here, so the figure is the time until lnav says
            # it found the hit, which flatters lnav if anything.
            how = "/ Enter, hit counted"
        res["rare"].append(t)
        res["rare_how"].append(how)
        res["rss"].append(p.peak_rss_mb())
        p.close("q")
        print("  lnav run %d: open %.0f ms, rare %.0f ms (%s), peak RSS %.1f MB"
              % (i + 1, res["open"][-1] * 1e3, t * 1e3, how, res["rss"][-1]), flush=True)
    return res


def sender_main(addr, path, rate, seconds):
    """Child process: replays frames over one TCP connection at `rate` records/s."""
    with open(path, "rb") as f:
        data = f.read()
    offs = [0]
    while offs[-1] < len(data):
        offs.append(offs[-1] + 4 + struct.unpack(">I", data[offs[-1]:offs[-1] + 4])[0])
    per = len(offs) - 1
    total = int(rate * seconds)
    step = max(1, int(rate / 200))  # 5 ms of records per write
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        k = min(step, total - sent)
        a = sent % per
        b = min(per, a + k)
        s.sendall(data[offs[a]:offs[b]])
        sent += b - a
        due = t0 + sent / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    s.close()
    print("%d %.6f" % (sent, time.perf_counter() - t0), flush=True)


def start_sender(port, frames, rate, seconds):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--_send",
                             "127.0.0.1:%d" % port, frames, str(rate), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


def finish_sender(s):
    out, _ = s.communicate(timeout=600)
    if s.returncode != 0:
        raise SystemExit("the sender failed")
    n, dt = out.split()
    return int(n), float(dt)


def live_ui(frames, rate, seconds, tmp):
    env = clean_env(tmp)
    db = os.path.join(tempfile.mkdtemp(prefix="live-ui-", dir=tmp), "live.db")
    port = free_port()
    p = Pty([BIN, "--db", db, "--tcp", "127.0.0.1:%d" % port, "--udp", "off", "--http", "off", "--redis", "off"],
            env)
    p.wait(shows(" all "), "the UI's pane title")
    wait_listening(port, type("P", (), {"poll": staticmethod(lambda: None)}))
    t0 = time.time()
    s = start_sender(port, frames, rate, seconds)
    lat = []
    err = lambda q: "level≥ERROR" in q.text() and "reading…" not in q.text()
    every = lambda q: "level≥" not in q.text() and "reading…" not in q.text()
    while s.poll() is None:
        lat.append(p.keys("4", err, "level≥ERROR during the flood"))
        lat.append(p.keys("1", every, "every level again during the flood"))
    n, send_dt = finish_sender(s)
    # Keep the screen read while the store catches up, so the UI is never blocked on output.
    deadline = time.time() + 600
    while stored(db) < n:
        p.pump(0.01)
        if time.time() > deadline:
            raise SystemExit("the UI stored %d of %d records" % (stored(db), n))
    t1 = time.time()
    rss = p.peak_rss_mb()
    p.close("q")
    got = counted(db)
    return {"lat": lat, "rate": n / (t1 - t0), "sent_rate": n / send_dt, "stored": got,
            "sent": n, "rss": rss}


def live_record(frames, rate, seconds, tmp):
    db = os.path.join(tempfile.mkdtemp(prefix="live-rec-", dir=tmp), "live.db")
    port = free_port()
    proc = recorder(db, port)
    wait_listening(port, proc)
    t0 = time.time()
    s = start_sender(port, frames, rate, seconds)
    n, send_dt = finish_sender(s)
    t1 = wait_stored(db, n, proc)
    with open("/proc/%d/status" % proc.pid) as f:
        rss = next((int(x.split()[1]) / 1024 for x in f if x.startswith("VmHWM:")), float("nan"))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return {"rate": n / (t1 - t0), "sent_rate": n / send_dt, "stored": counted(db), "sent": n,
            "rss": rss}


# ---------------------------------------------------------------------------------------------
# The table


def ms(v):
    return "%.0f ms" % (v * 1e3) if v >= 0.0095 else "%.1f ms" % (v * 1e3)


def row(name, value, runs, target, met):
    return "| %s | %s | %s | %s | %s |" % (name, value, runs, target, met)


def verdict(ok):
    return "yes" if ok else "**no**"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--_send":
        sender_main(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-lnav", action="store_true")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--live-rate", type=float, default=100_000)
    ap.add_argument("--live-seconds", type=float, default=10)
    ap.add_argument("--no-build", action="store_true", help="use target/release/logtui as it is")
    ap.add_argument("--binary", help="time this logtui binary instead (implies --no-build)")
    a = ap.parse_args()
    global BIN
    if a.binary:
        BIN = os.path.abspath(a.binary)
    elif not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="logtui-ui-bench-")
    db, frames, total = build_store(a.records)
    print("store: %d records (%s)" % (total, db), flush=True)
    view = bench_view(db, a.runs, tmp)
    ln = None
    if not a.skip_lnav:
        log = text_export(db, a.records)
        ln = bench_lnav(log, a.runs, tmp)
    live = None
    if not a.skip_live:
        live = {"ui": [], "record": []}
        for i in range(a.runs):
            u = live_ui(frames, a.live_rate, a.live_seconds, tmp)
            r = live_record(frames, a.live_rate, a.live_seconds, tmp)
            live["ui"].append(u)
            live["record"].append(r)
            print("  live run %d: ui %.0f rec/s (%d/%d stored, keys median %.0f ms max %.0f ms,"
                  " RSS %.1f MB), record %.0f rec/s (%d/%d stored), sender %.0f rec/s"
                  % (i + 1, u["rate"], u["stored"], u["sent"],
                     statistics.median(u["lat"]) * 1e3, max(u["lat"]) * 1e3, u["rss"],
                     r["rate"], r["stored"], r["sent"], u["sent_rate"]), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    print()
    print("%d records, %dx%d pty, %d runs, medians; `python3 benches/ui.py --records %d --runs %d`"
          % (total, COLS, ROWS, a.runs, a.records, a.runs))
    print()
    print("| measurement | median | runs | target | met? |")
    print("|---|---|---|---|---|")
    R = str(a.runs)
    v = view
    print(row("`logtui view`: spawn → newest records on screen", ms(med(v["open"])), R, "≤ 100 ms",
              verdict(med(v["open"]) <= 0.1)))
    print(row("`g` → oldest on screen", ms(med(v["oldest"])), R, "≤ 50 ms", verdict(med(v["oldest"]) <= 0.05)))
    print(row("`G` → newest on screen", ms(med(v["newest"])), R, "≤ 50 ms", verdict(med(v["newest"]) <= 0.05)))
    how = sorted(set(v["rare_how"]))
    print(row("rare word (1 record, middle) `%s` → on screen" % " / ".join(how), ms(med(v["rare"])),
              R, "≤ 100 ms", verdict(med(v["rare"]) <= 0.1 and how == ["/ Enter"])))
    print(row("common word (`%s`, 1 record in 3) `/` Enter → highlighted on screen" % COMMON,
              ms(med(v["common"])), R, "≤ 100 ms", verdict(med(v["common"]) <= 0.1)))
    print(row("filter `f %s` Enter → title's count shows a first figure (`≥N…`)" % COMMON,
              ms(med(v["count_first"])), R, "≤ 100 ms", verdict(med(v["count_first"]) <= 0.1)))
    print(row("filter `f %s` Enter → title's count final (`N matches`, = query --count)" % COMMON,
              ms(med(v["count_final"])), R, "(no target)", ""))
    print(row("`logtui view` peak RSS", "%.1f MB" % max(v["rss"]), R + " (max)", "≤ 100 MB",
              verdict(max(v["rss"]) <= 100)))
    print(row("frame render 200×60", "see `cargo bench --bench ui_render`", "", "≤ 5 ms", ""))
    if ln:
        print(row("lnav (%s): spawn → newest line on screen" % ln["version"], ms(med(ln["open"])),
                  R, "(comparison)", ""))
        print(row("lnav: rare word `%s` → on screen" % " / ".join(sorted(set(ln["rare_how"]))),
                  ms(med(ln["rare"])), R, "(comparison)", ""))
        print(row("lnav peak RSS", "%.1f MB" % max(ln["rss"]), R + " (max)", "(comparison)", ""))
    if live:
        lat = [x for u in live["ui"] for x in u["lat"]]
        ui_rate = med(u["rate"] for u in live["ui"])
        rec_rate = med(r["rate"] for r in live["record"])
        lost = sum(max(0, u["sent"] - u["stored"]) for u in live["ui"])
        print(row("`logtui` at %d rec/s for %.0f s: every record stored" % (a.live_rate, a.live_seconds),
                  "%d lost" % lost, R, "0 lost", verdict(lost == 0)))
        print(row("`logtui` at %d rec/s: keystroke (`4`/`1`) → updated frame" % a.live_rate,
                  "%s (p90 %s, max %s)" % (ms(med(lat)), ms(sorted(lat)[int(len(lat) * 0.9)]), ms(max(lat))),
                  "%d keys" % len(lat), "≤ 50 ms", verdict(med(lat) <= 0.05)))
        print(row("ingest: `logtui` / `logtui record`, same feed",
                  "%.0f / %.0f rec/s = %.2f" % (ui_rate, rec_rate, ui_rate / rec_rate), R,
                  "≥ 0.90", verdict(ui_rate / rec_rate >= 0.9)))
        print(row("`logtui` peak RSS during the flood", "%.1f MB" % max(u["rss"] for u in live["ui"]),
                  R + " (max)", "≤ 100 MB", verdict(max(u["rss"] for u in live["ui"]) <= 100)))


if __name__ == "__main__":
    main()
