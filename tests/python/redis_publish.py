"""Publishes log records to Redis for tests/redis_pubsub.rs, the way real producers do.

smarter: a logging.Handler doing what Smarter's RedisLogHandler does (format, JSON with indent=2
and ensure_ascii, PUBLISH + XADD + EXPIRE in one MULTI/EXEC per copy, the job channel then
logs:global). burst: the same payloads, pipelined without transactions, as fast as redis-py goes.
generic/text: one JSON object in another shape, or a text line, per message.
Prints one JSON line per record: its message, channel and CPython's own RFC 3339 time of `created`.
"""
import argparse
import datetime
import json
import logging
import sys
import uuid

import redis


def iso(created):
    return datetime.datetime.fromtimestamp(created, datetime.timezone.utc).isoformat(
        timespec="microseconds").replace("+00:00", "Z")


class SmarterHandler(logging.Handler):
    """Smarter's RedisLogHandler.emit + flush, without its queue and worker thread."""

    def __init__(self, client, channel_of, out):
        super().__init__()
        self.client, self.channel_of, self.out = client, channel_of, out
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                            datefmt="[%Y-%m-%d %H:%M:%S]"))

    def emit(self, record):
        data = json.dumps({"message": self.format(record), "level": record.levelname,
                           "timestamp": record.created, "logger": record.name,
                           "pod": "smarter-web-test"}, indent=2, ensure_ascii=True)
        channel = "logs:" + self.channel_of(record)
        for ch in (channel, "logs:global"):
            p = self.client.pipeline(transaction=True)
            p.publish(ch, data)
            p.xadd("stream:" + ch, {"data": data}, maxlen=1000, approximate=True)
            p.expire("stream:" + ch, 86400 if ch == "logs:global" else 3600)
            p.execute()
        self.out.append({"message": self.format(record), "channel": channel,
                         "time": iso(record.created)})


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--url", required=True)
    a.add_argument("--mode", choices=["smarter", "burst", "generic", "text"], required=True)
    a.add_argument("--count", type=int, default=10)
    a.add_argument("--tag", default="r")
    a.add_argument("--channel", default="app:events")
    o = a.parse_args()
    r = redis.Redis.from_url(o.url)
    out = []
    if o.mode == "smarter":
        job = "job_%s" % uuid.uuid4()
        channels = [job, "User.admin"]
        log = logging.getLogger("smarter.apps.prompt.views")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(SmarterHandler(r, lambda rec: rec.ctx, out))
        for i in range(o.count):
            log.warning("%s %d for Zo\u00eb", o.tag, i, extra={"ctx": channels[i % 2]})
    elif o.mode == "burst":
        p = r.pipeline(transaction=False)
        for i in range(o.count):
            data = json.dumps({"message": "%s %d" % (o.tag, i), "level": "INFO",
                               "timestamp": 1795565018.0 + i / 1e4, "logger": "bench",
                               "pod": None}, indent=2, ensure_ascii=True)
            p.publish("logs:job_%d" % (i % 7), data)
            p.publish("logs:global", data)
            if len(p) >= 2000:
                p.execute()
        p.execute()
    elif o.mode == "generic":
        for i in range(o.count):
            r.publish(o.channel, json.dumps({"msg": "%s %d" % (o.tag, i), "severity": "error",
                                             "ts": 1795565018.5, "service": "billing"}))
    else:
        for i in range(o.count):
            r.publish(o.channel, "[WARNING] %s %d disk almost full" % (o.tag, i))
    for line in out:
        print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
