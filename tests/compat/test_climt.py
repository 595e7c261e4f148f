"""cli_mt (zookeeper-bin's C-client shell) driven non-interactively with `-c CMD` (batch mode:
connect, run one command, wait for its completion, exit). Uses the server in $ZK_CONNECT (the
C-client test's server) or starts one via the conftest fixture.

cli_mt's create takes no data argument: `create [+[e|s|c|t=ttl]] <path>` stores the fixed
value "new"; everything after the flags is the path (spaces included)."""
import os
import re
import shutil
import subprocess

import pytest

CLI = shutil.which("cli_mt") or "/usr/lib/zookeeper/bin/cli_mt"


def cli(server, cmd):
    if not os.path.exists(CLI):
        pytest.skip("cli_mt (zookeeper-bin) is not installed")
    r = subprocess.run([CLI, "-h", server.hosts, "-c", cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30, text=True, errors="replace")
    assert r.returncode == 0, r.stdout
    assert "Batch mode: %s" % cmd in r.stdout, r.stdout
    assert "state = CONNECTED_STATE" in r.stdout, r.stdout
    return r.stdout


def test_climt_create_set_get_ls_delete(server):
    base = "/climt-%d" % os.getpid()
    out = cli(server, "create %s" % base)
    assert re.search(r"\[%s\]: rc = 0\n\s+name = %s\n" % (re.escape(base), re.escape(base)), out), out
    out = cli(server, "get %s" % base)
    assert re.search(r"%s: rc = 0\n value_len = 3\nnew\n" % re.escape(base), out), out
    assert re.search(r"\n\tversion=0\taversion=0\n", out), out
    out = cli(server, "set %s hello-cli" % base)
    assert re.search(r"%s: rc = 0" % re.escape(base), out), out
    out = cli(server, "get %s" % base)
    assert re.search(r"value_len = 9\nhello-cli\n", out) and "\tversion=1\t" in out, out
    out = cli(server, "create +s %s/s-" % base)
    assert re.search(r"rc = 0\n\s+name = %s/s-0000000000\n" % re.escape(base), out), out
    out = cli(server, "create +e %s/eph" % base)
    assert "rc = 0" in out, out
    out = cli(server, "ls %s" % base)
    kids = re.search(r"%s: rc = 0\n((?:\t.*\n)*)" % re.escape(base), out)
    assert kids, out
    # the ephemeral died with cli_mt's session when it exited
    assert sorted(k.strip() for k in kids.group(1).splitlines()) == ["s-0000000000"], out
    # (cli_mt's `exists` never finishes in batch mode - it leaves no completion to wait for -
    # so it is not used here)
    out = cli(server, "delete %s/s-0000000000" % base)
    assert re.search(r"%s/s-0000000000: rc = 0" % re.escape(base), out), out
    out = cli(server, "get %s/s-0000000000" % base)
    assert "rc = -101" in out, out
    out = cli(server, "delete %s" % base)
    assert "rc = 0" in out, out
