#!/usr/bin/python3
"""A writer client: creates nodes and sets a register, recording every acknowledged write.

    writer.py HOSTS HISTORY WRITER_ID SESSION_TIMEOUT_MS SEED

Cycles through SCHEDULE: `create /chaos/data/<id>-<n> = "v<n>"`, `set /chaos/reg/<id> = "<n>"`,
multis doing both at once, and writes that the ensemble must clean up by itself: containers
(/chaos/ctr/<id>-<n>, a child created and deleted, so the leader reaps them), TTL nodes
(/chaos/ttl/<id>-<n>, 0.5-1.5 s) and ephemerals of throwaway sessions that are then abandoned
without closing (/chaos/eph/<id>-<n>, the session left to expire). A create or set is recorded
("ack") only after the server acknowledged it (a multi's two as two acks); a write whose outcome
is unknown (connection loss, timeout) is recorded as "unknown" and never counted as acknowledged;
the self-cleaning writes are recorded as "container", "ttl" and "abandoned" for the statistics.
SIGTERM stops it after the write in flight.
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import zkwire  # noqa: E402

OP_TIMEOUT = 8.0
SCHEDULE = ["create", "set", "multi", "container", "create", "set", "ttl", "set", "create",
            "multi", "set", "abandon"]


class Unacknowledged(Exception):
    pass


def abandon_session(hosts, rng, path, st_ms):
    """A raw session on a random member that creates an ephemeral and is then dropped without
    a closeSession: the ensemble must expire it and delete the node. Returns the session id."""
    host, port = rng.choice(hosts.split(",")).rsplit(":", 1)
    c = zkwire.Conn(int(port), timeout=OP_TIMEOUT, host=host)
    try:
        _, sid, _ = c.handshake(int(st_ms))
        if sid == 0:
            raise Unacknowledged("session refused")
        _, _, err, _ = c.call(1, zkwire.OP_CREATE, zkwire.create_body(path, b"e", 1))
        if err != 0:
            raise Unacknowledged("create error %d" % err)
        return sid
    finally:
        c.close()


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
        op = SCHEDULE[n % len(SCHEDULE)]
        path, value = {"create": f"/chaos/data/{wid}-{n:08d}", "set": f"/chaos/reg/{wid}",
                       "multi": f"/chaos/data/{wid}-{n:08d}", "container": f"/chaos/ctr/{wid}-{n:08d}",
                       "ttl": f"/chaos/ttl/{wid}-{n:08d}", "abandon": f"/chaos/eph/{wid}-{n:08d}"
                       }[op], (f"v{n}" if op in ("create", "multi") else str(n))
        t0 = time.monotonic()
        try:
            if op == "create":
                zk.create_async(path, value.encode()).get(timeout=OP_TIMEOUT)
            elif op == "set":
                zk.set_async(path, value.encode()).get(timeout=OP_TIMEOUT)
            elif op == "multi":
                tx = zk.transaction()
                tx.create(path, value.encode())
                tx.set_data(f"/chaos/reg/{wid}", str(n).encode())
                results = tx.commit_async().get(timeout=OP_TIMEOUT)
                if any(isinstance(r, Exception) for r in results):
                    raise Unacknowledged(f"multi results {results}")
                record({"ev": "ack", "op": "set", "writer": wid, "path": f"/chaos/reg/{wid}",
                        "value": str(n), "n": n, "t0": t0, "t": time.monotonic(), "multi": True})
                op = "create"  # its create is recorded below like any other
            elif op == "container":
                zkwire.kazoo_create_container_async(zk, path).get(timeout=OP_TIMEOUT)
                zk.create_async(path + "/c").get(timeout=OP_TIMEOUT)
                zk.delete_async(path + "/c").get(timeout=OP_TIMEOUT)
            elif op == "ttl":
                zkwire.kazoo_create_ttl_async(zk, path, b"t", rng.randint(500, 1500)).get(
                    timeout=OP_TIMEOUT)
            else:
                value = abandon_session(hosts, rng, path, st_ms)
            ev = "ack" if op in ("create", "set") else \
                {"container": "container", "ttl": "ttl", "abandon": "abandoned"}[op]
            record({"ev": ev, "op": op, "writer": wid, "path": path, "value": value, "n": n,
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
