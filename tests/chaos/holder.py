#!/usr/bin/python3
"""The command a lock client runs while holding a lock (under `zabctl lock NAME -- holder.py ...`).

Records the hold in its client's history (JSON lines, CLOCK_MONOTONIC seconds: the clock every
process on this machine shares) and writes its fencing token to the protected resource (a Unix
socket served by the orchestrator, reachable from any network namespace). zabctl sends SIGTERM to
this process group when the lock is lost: that is the holder being "told its session was lost";
it records the time and stops touching the resource at once.

    holder.py HISTORY SOCKET CLIENT LOCK HOLD_MS WRITES STOPFILE
"""
import json
import os
import signal
import socket
import sys
import time


class Lost(Exception):
    pass


def main():
    hist, sock_path, client, lock, hold_ms, writes, stopfile = sys.argv[1:8]
    hold_ms, writes = int(hold_ms), int(writes)
    token = int(os.environ["ZABKEEPER_LOCK_TOKEN"])
    told = {}

    def on_term(signum, frame):
        told["t"] = time.monotonic()
        told["why"] = "stop" if os.path.exists(stopfile) else "lost"
        raise Lost()

    signal.signal(signal.SIGTERM, on_term)
    start = time.monotonic()
    hold = f"{client}:{os.getpid()}:{token}"
    fd = os.open(hist, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(obj):
        os.write(fd, (json.dumps(obj) + "\n").encode())

    ok = stale = 0
    rec = {"ev": "start", "hold": hold, "client": client, "lock": lock, "token": token, "t": start,
           "node": os.environ.get("ZABKEEPER_LOCK_NODE", "")}
    try:
        record(rec)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        f = s.makefile("rwb", buffering=0)

        def say(word):
            f.write(f"{word} {lock} {token} {client} {hold}\n".encode())
            return f.readline().strip()

        say("BEGIN")
        for i in range(writes):
            if say("W") == b"OK":
                ok += 1
            else:
                stale += 1
            time.sleep(hold_ms / 1000.0 / writes)
        say("END")
    except Lost:
        pass
    except OSError as e:  # resource gone (orchestrator stopping): still record the hold
        rec["error"] = str(e)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        end = time.monotonic()
        record({"ev": "end", "hold": hold, "client": client, "lock": lock, "token": token,
                "start": start, "t": end, "told": told.get("t"), "why": told.get("why"),
                "writes_ok": ok, "writes_stale": stale})
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
