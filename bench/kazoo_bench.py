#!/usr/bin/python3
"""Load driven from Python with kazoo (Debian's python3-kazoo), for bench/vs-zookeeper and
bench/scale; like zkbench it prints one "RESULT key=value ..." line (latencies in ms).

  kazoo_bench.py lock --connect S --contenders N [--seconds 10] [--warmup 1]
      N threads, each with its own session and kazoo's Lock recipe on one path, acquire and
      release in a loop with no work in between. Cycles per second, and the hand-off latency:
      from the moment a holder calls release() to the moment the next acquire() returns (the
      waiter's watch fires, it lists the children and finds itself first). Python's GIL and
      kazoo's threads are part of what is measured: this is what a kazoo user gets.
  kazoo_bench.py bigwrites --connect S [--count 2000] [--size 1000000] [--keys 20]
                           [--inflight 8]
      --count setData of --size bytes round-robin over --keys znodes (created first), --inflight
      at a time: a stream of ~1 MiB values whose memory cost should be bounded by bytes held,
      not by how many entries passed through.
"""
import argparse
import threading
import time

from kazoo.client import KazooClient


def quantile(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def client(connect):
    zk = KazooClient(hosts=connect, timeout=30.0)
    zk.start(timeout=30)
    return zk


def cmd_lock(a):
    path = "/kazoo-bench/lock-%d-%d" % (threading.get_native_id(), int(time.time() * 1000))
    clients = [client(a.connect) for _ in range(a.contenders)]
    clients[0].ensure_path(path)
    state = {"released_at": 0, "stop": False}
    rec_start = time.monotonic_ns() + int(a.warmup * 1e9)
    rec_end = rec_start + int(a.seconds * 1e9)
    handoffs, cycles, errors = [], [0], [0]
    mu = threading.Lock()

    def contend(zk, ident):
        lock = zk.Lock(path, ident)
        while not state["stop"]:
            try:
                if not lock.acquire(timeout=5):
                    continue
            except Exception:
                errors[0] += 1
                time.sleep(0.01)
                continue
            t = time.monotonic_ns()
            rel = state["released_at"]
            if rec_start <= t <= rec_end:
                with mu:
                    cycles[0] += 1
                    if rel >= rec_start:
                        handoffs.append((t - rel) / 1e6)
            state["released_at"] = time.monotonic_ns()
            try:
                lock.release()
            except Exception:
                errors[0] += 1

    threads = [threading.Thread(target=contend, args=(zk, "c%d" % i), daemon=True)
               for i, zk in enumerate(clients)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, (rec_end - time.monotonic_ns()) / 1e9))
    state["stop"] = True
    for t in threads:
        t.join(timeout=30)
    h = sorted(handoffs)
    print("RESULT kind=lock client=kazoo contenders=%d seconds=%g cycles=%d cycles_per_s=%.1f "
          "handoff_p50_ms=%.3f handoff_p99_ms=%.3f handoff_p999_ms=%.3f handoff_max_ms=%.3f "
          "errors=%d" % (a.contenders, a.seconds, cycles[0], cycles[0] / a.seconds,
                         quantile(h, 0.5), quantile(h, 0.99), quantile(h, 0.999),
                         h[-1] if h else 0.0, errors[0]), flush=True)
    try:
        clients[0].delete(path, recursive=True)
    except Exception:
        pass
    for zk in clients:
        zk.stop()
        zk.close()
    return 0 if errors[0] == 0 else 1


def cmd_bigwrites(a):
    zk = client(a.connect)
    root = "/kazoo-bench/big-%d" % int(time.time() * 1000)
    zk.ensure_path(root)
    keys = ["%s/k%d" % (root, k) for k in range(a.keys)]
    for k in keys:
        zk.create(k, b"")
    value = b"v" * a.size
    t0 = time.monotonic()
    pending, errors = [], 0
    for n in range(a.count):
        pending.append(zk.set_async(keys[n % a.keys], value))
        if len(pending) >= a.inflight:
            try:
                pending.pop(0).get(timeout=60)
            except Exception:
                errors += 1
    for p in pending:
        try:
            p.get(timeout=60)
        except Exception:
            errors += 1
    secs = time.monotonic() - t0
    print("RESULT kind=bigwrites writes=%d size=%d keys=%d seconds=%.2f writes_per_s=%.1f "
          "mb_per_s=%.1f errors=%d" % (a.count, a.size, a.keys, secs, a.count / secs,
                                       a.count * a.size / secs / 1e6, errors), flush=True)
    zk.stop()
    zk.close()
    return 0 if errors == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lk = sub.add_parser("lock")
    lk.add_argument("--connect", required=True)
    lk.add_argument("--contenders", type=int, default=4)
    lk.add_argument("--seconds", type=float, default=10)
    lk.add_argument("--warmup", type=float, default=1)
    bw = sub.add_parser("bigwrites")
    bw.add_argument("--connect", required=True)
    bw.add_argument("--count", type=int, default=2000)
    bw.add_argument("--size", type=int, default=1000000)
    bw.add_argument("--keys", type=int, default=20)
    bw.add_argument("--inflight", type=int, default=8)
    a = ap.parse_args()
    return cmd_lock(a) if a.cmd == "lock" else cmd_bigwrites(a)


if __name__ == "__main__":
    raise SystemExit(main())
