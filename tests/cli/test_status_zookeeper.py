"""`zabctl status` against Apache ZooKeeper 3.8 (Debian's): a standalone server with every 4lw
allowed, one with ZooKeeper's default whitelist (srvr only), a stopped one (exit 4), and a
3-member ensemble (QuorumPeerMain) all up, with a follower killed, with two killed.
Ports: $CLI_ZK_PORT (29426) and +1 standalone, $CLI_ZK_BASE (29430) + 1..13 the ensemble."""
import os
import shutil
import subprocess
import sys

import pytest

from statuslib import mode, status, status_json, table, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
from serverprocs import Members, quorum_peer_main  # noqa: E402  (tests/compat)

SERVERCTL = os.environ["SERVERCTL"]
TOP = os.environ["CLI_TEST_DIR"]
PORT = int(os.environ["CLI_ZK_PORT"])
BASE = int(os.environ["CLI_ZK_BASE"])
ZK_JAR = "/usr/share/java/zookeeper.jar"

if not shutil.which("java") or not os.path.exists(ZK_JAR):
    pytest.skip("java or %s missing: Apache ZooKeeper cannot run" % ZK_JAR,
                allow_module_level=True)


def serverctl(*args):
    subprocess.run([SERVERCTL, *map(str, args)], check=True, timeout=120,
                   capture_output=True, text=True)


@pytest.fixture
def standalone(request):
    started = []

    def start(port, *cfg):
        d = os.path.join(TOP, "zk-%d" % port)
        shutil.rmtree(d, ignore_errors=True)
        serverctl("start", "zookeeper", d, port, *cfg)
        started.append(d)
        return d
    yield start
    for d in started:
        serverctl("stop", d)


def test_standalone_all_words(standalone):
    standalone(PORT)
    rc, out, err = status("127.0.0.1:%d" % PORT)
    assert rc == 0, out + err
    rows, tail = table(out)
    assert len(rows) == 1 and rows[0]["ID"] == "0" and rows[0]["MODE"] == "standalone", out
    assert rows[0]["ZXID"].startswith("0x") and rows[0]["LAG"] == "0", out
    assert "voters serving: 1 of 1 (quorum 1) [standalone]: OK" in out, out
    rc, doc = status_json("127.0.0.1:%d" % PORT)
    assert rc == 0 and doc["leader"] == 0 and doc["voters_from"] == "standalone", doc
    m = doc["members"][0]
    assert m["words"] == {"srvr": "ok", "mntr": "ok", "conf": "ok"}, m
    assert m["version"].startswith("3.8"), m
    assert m["connections"] >= 1 and m["znode_count"] >= 1, m


def test_standalone_default_whitelist(standalone):
    """ZooKeeper's default 4lw.commands.whitelist is srvr: say so, show what srvr gives."""
    standalone(PORT + 1, "4lw.commands.whitelist=srvr")
    rc, out, err = status("127.0.0.1:%d" % (PORT + 1))
    assert rc == 0, out + err
    rows, tail = table(out)
    assert rows[0]["ID"] == "#1" and rows[0]["MODE"] == "standalone", out
    assert rows[0]["CONNS"].isdigit() and rows[0]["LAT AVG/MAX MS"] != "-", out
    assert any("mntr, conf not in 4lw.commands.whitelist" in line for line in tail), out
    rc, doc = status_json("127.0.0.1:%d" % (PORT + 1))
    m = doc["members"][0]
    assert m["id"] is None and m["position"] == 1, doc
    assert m["words"] == {"srvr": "ok", "mntr": "not in whitelist",
                          "conf": "not in whitelist"}, m


def test_standalone_stopped(standalone):
    d = standalone(PORT)
    serverctl("stop", d)
    rc, out, err = status("127.0.0.1:%d" % PORT)
    assert rc == 4 and "UNREACHABLE" in out, out + err


class Ensemble(Members):
    """Three QuorumPeerMain processes of Debian's ZooKeeper 3.8 on loopback (server lines with
    their client ports, as ZooKeeper 3.5+ configurations have them)."""

    def configure(self, i):
        lines = ["tickTime=500", "initLimit=20", "syncLimit=4", "dataDir=" + self.data(i),
                 "maxClientCnxns=0", "4lw.commands.whitelist=*", "admin.enableServer=false",
                 "forceSync=no"]
        lines += ["server.%d=127.0.0.1:%d:%d;%d" % (j, BASE + 5 + j, BASE + 10 + j, BASE + j)
                  for j in (1, 2, 3)]
        self.write_config(i, lines)

    def start(self, i):
        self.launch(i, quorum_peer_main(self.cfg(i)))


@pytest.fixture(scope="module")
def zk_ensemble():
    top = os.path.join(TOP, "zk-ensemble")
    shutil.rmtree(top, ignore_errors=True)
    e = Ensemble(top)
    try:
        for i in (1, 2, 3):
            e.configure(i)
            e.start(i)
        wait_for(lambda: sorted(mode(BASE + i) or "" for i in (1, 2, 3)) ==
                 ["follower", "follower", "leader"], 120, "the ZooKeeper ensemble to serve")
        yield e
    finally:
        e.stop_all()


def test_zookeeper_ensemble(zk_ensemble):
    hosts = ",".join("127.0.0.1:%d" % (BASE + i) for i in (1, 2, 3))
    rc, out, err = status(hosts)
    assert rc == 0, out + err
    rows, _ = table(out)
    assert [r["ID"] for r in rows] == ["1", "2", "3"], out
    assert sorted(r["MODE"] for r in rows) == ["follower", "follower", "leader"], out
    assert "voters serving: 3 of 3 (quorum 2): OK" in out, out
    # one host is enough: the others come from conf's membership
    rc, doc = status_json("127.0.0.1:%d" % (BASE + 1))
    assert rc == 0 and [m["id"] for m in doc["members"]] == [1, 2, 3], doc
    assert doc["voters_from"] == "membership" and doc["config_version"], doc
    assert all(m["role"] == "participant" for m in doc["members"]), doc
    lead = [m for m in doc["members"] if m["mode"] == "leader"][0]
    assert all(m["lag"] is not None for m in doc["members"]
               if m["epoch"] == lead["epoch"]), doc

    leader = lead["id"]
    followers = [i for i in (1, 2, 3) if i != leader]
    zk_ensemble.stop(followers[0])
    rc, out, err = status(hosts)
    assert rc == 0, out + err
    rows, _ = table(out)
    assert rows[followers[0] - 1]["MODE"] == "unreachable", out
    assert "voters serving: 2 of 3 (quorum 2): OK" in out, out

    zk_ensemble.stop(followers[1])
    rc, out, err = status(hosts)
    assert rc == 8 and "NO QUORUM" in out, out + err
