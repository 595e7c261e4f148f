#!/usr/bin/python3
"""A writer client: creates nodes and sets a register, recording every acknowledged write.

    writer.py HOSTS HISTORY WRITER_ID SESSION_TIMEOUT_MS SEED

Alternates `create /chaos/data/<id>-<n> = "v<n>"` and `set /chaos/reg/<id> = "<n>"`. A write is
recorded ("ack") only after the server acknowledged it; a write whose outcome is unknown
(connection loss, timeout) is recorded as "unknown" and never counted as acknowledged. SIGTERM
stops it after the write in flight.
"""
import json
import logging
import os
import random
import signal
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError

OP_TIMEOUT = 8.0


def main():
    hosts, hist, wid, st_ms, seed = sys.argv[1:6]
    rng = random.Random(int(seed))
    stop = {"v": False}
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__("v", True))
    logging.basicConfig(level=logging.CRITICAL)
    fd = os.open(hist, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(obj):
        os.write(fd, (json.dumps(obj) + "\n").encode())

    zk = KazooClient(hosts=hosts, timeout=int(st_ms) / 1000.0,
                     connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1.0})
    while not stop["v"]:
        try:
            zk.start(timeout=10)
            break
        except KazooTimeoutError:
            continue
    n = 0
    while not stop["v"]:
        n += 1
        if n % 2:
            op, path, value = "create", f"/chaos/data/{wid}-{n:08d}", f"v{n}"
        else:
            op, path, value = "set", f"/chaos/reg/{wid}", str(n)
        t0 = time.monotonic()
        try:
            if op == "create":
                zk.create_async(path, value.encode()).get(timeout=OP_TIMEOUT)
            else:
                zk.set_async(path, value.encode()).get(timeout=OP_TIMEOUT)
            record({"ev": "ack", "op": op, "writer": wid, "path": path, "value": value, "n": n,
                    "t0": t0, "t": time.monotonic()})
        except NodeExistsError:
            # an earlier attempt of ours with an unknown outcome can't share this path: each n is
            # new, so this means the server applied a create we were never acknowledged. Note it.
            record({"ev": "exists", "op": op, "path": path, "n": n, "t": time.monotonic()})
        except (KazooException, KazooTimeoutError, Exception) as e:
            record({"ev": "unknown", "op": op, "path": path, "value": value, "n": n,
                    "err": type(e).__name__, "t": time.monotonic()})
            time.sleep(0.2)
        time.sleep(rng.uniform(0.02, 0.08))
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
