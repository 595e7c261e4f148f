"""Shared helpers of the `zabctl status` tests (tests/cli): run zabctl, parse its table and its
--json, talk four-letter words, wait for conditions."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
from zkwire import four_letter_or_empty  # noqa: E402  (tests/compat)

ZABCTL = os.environ.get("ZABCTL_BIN", "zabctl")


def status(servers, *args, timeout=60):
    """(exit code, stdout, stderr) of `zabctl -s SERVERS status ARGS`."""
    p = subprocess.run([ZABCTL, "-s", servers, "--connect-timeout", "2000", "status", *args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def status_json(servers):
    rc, out, err = status(servers, "--json")
    doc = json.loads(out)
    assert doc["exit"] == rc, (rc, out, err)
    return rc, doc


def table(out):
    """The table's rows as dicts keyed by the header's column names, and the lines after it."""
    lines = out.splitlines()
    header = lines[0]
    cols = ["ID", "MODE", "ZXID", "LAG", "CONNS", "OUTSTANDING", "LAT AVG/MAX MS", "ADDRESS"]
    starts = [header.index(c) for c in cols]
    assert starts == sorted(starts), header
    rows = []
    i = 1
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        cells = [line[s:(starts[k + 1] if k + 1 < len(starts) else None)].strip()
                 for k, s in enumerate(starts)]
        rows.append(dict(zip(cols, cells)))
        i += 1
    return rows, lines[i + 1:]


def mode(port):
    for line in four_letter_or_empty(port, "srvr", 2.0).splitlines():
        if line.startswith("Mode: "):
            return line[6:].strip()
    return None


def wait_for(cond, timeout, what, interval=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
