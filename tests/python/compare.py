"""Checks `logtui query --format jsonl` output against what send_records.py logged.
Usage: compare.py KIND EXPECTED.jsonl GOT.jsonl ; exits 1 listing every mismatch."""
from __future__ import print_function

import json
import math
import sys

kind, exp_path, got_path = sys.argv[1:4]
http = kind.startswith("http")
expected = [json.loads(l) for l in open(exp_path) if l.strip()]
got = [json.loads(l) for l in open(got_path) if l.strip()]
by_msg = dict((g["message"], g) for g in got)
errors = []

KEYS = ["id", "time", "created", "level", "levelname", "logger", "message", "source", "origin", "job",
        "host", "process", "process_name", "thread", "thread_name", "task_name", "pathname", "filename",
        "module", "lineno", "func", "exc_text", "stack_info", "extra"]


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and "$repr" in a:
        return b == a["$repr"]
    if isinstance(a, dict) and "$contains" in a:
        return isinstance(b, str) and a["$contains"] in b
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    return a == b and type(a) == type(b) or (a == b and not isinstance(a, (bool, float)) and not isinstance(b, (bool, float)))


for g in got:
    if list(g.keys()) != KEYS:
        errors.append("keys differ: %r" % list(g.keys()))
        break
if len(got) != len(expected):
    errors.append("expected %d records, got %d" % (len(expected), len(got)))
for e in expected:
    g = by_msg.get(e["message"])
    if g is None:
        errors.append("missing record with message %r" % e["message"][:80])
        continue
    want_source = "tcp" if kind in ("tcp", "unix") else ("udp" if kind == "udp" else "http")
    checks = [("source", want_source), ("logger", e["logger"]), ("level", e["level"]),
              ("levelname", e["levelname"]), ("process", e["process"]), ("thread", e["thread"]),
              ("thread_name", e["thread_name"]), ("pathname", e["pathname"]), ("lineno", e["lineno"]),
              ("func", e["func"]), ("exc_text", e["exc_text"]), ("stack_info", e["stack_info"]),
              ("task_name", e["task_name"])]
    for key, want in checks:
        if g[key] != want:
            errors.append("%r: %s is %r, expected %r" % (e["message"][:40], key, g[key], want))
    # HTTPHandler sends str(created): exact on Python 3, 12 significant digits on Python 2.
    want_created = float(e["created_text"]) if http else e["created"]
    if abs(g["created"] - want_created) > 5e-7:
        errors.append("%r: created %r, expected %r" % (e["message"][:40], g["created"], want_created))
    if not same(e["extra"], g["extra"]):
        errors.append("%r: extra %r, expected %r" % (e["message"][:40], g["extra"], e["extra"]))
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("%s: %d records match" % (kind, len(expected)))
