#!/usr/bin/env python3
"""The baseline for benches/ingest.py: the Python logging cookbook's socket receiver
(LogRecordStreamHandler) writing each record to SQLite in 500-row batches.
It unpickles network input, which is exactly what logtui refuses to do: use it only here.

Usage: cookbook_receiver.py DB ; prints "listening on PORT" and serves until SIGTERM."""
import logging
import pickle
import signal
import socketserver
import sqlite3
import struct
import sys
import threading

DB = sys.argv[1]
lock = threading.Lock()
conn = sqlite3.connect(DB, check_same_thread=False)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE log (created REAL, name TEXT, levelno INTEGER, levelname TEXT, msg TEXT,"
             " pathname TEXT, lineno INTEGER, exc_text TEXT)")
conn.commit()
batch = []


def flush():
    with lock:
        if batch:
            conn.executemany("INSERT INTO log VALUES (?,?,?,?,?,?,?,?)", batch)
            conn.commit()
            batch.clear()


class Handler(socketserver.StreamRequestHandler):
    def read_exact(self, n):
        # The cookbook reads with bare recv() calls, which can return short and end the
        # stream early under load; read exactly, so the baseline stores every record.
        buf = b""
        while len(buf) < n:
            chunk = self.connection.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def handle(self):
        while True:
            chunk = self.read_exact(4)
            if chunk is None:
                break
            slen = struct.unpack(">L", chunk)[0]
            chunk = self.read_exact(slen)
            if chunk is None:
                break
            r = logging.makeLogRecord(pickle.loads(chunk))
            row = (r.created, r.name, r.levelno, r.levelname, r.getMessage(), r.pathname, r.lineno, r.exc_text)
            with lock:
                batch.append(row)
                full = len(batch) >= 500
            if full:
                flush()
        flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
print("listening on", srv.server_address[1], flush=True)
signal.signal(signal.SIGTERM, lambda *a: (flush(), sys.exit(0)))
srv.serve_forever()
