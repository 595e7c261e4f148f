"""`zabctl status` on a 3-member zabkeeper ensemble (deploy/localcluster): every row when all are
up, a killed member's row unreachable while the quorum keeps exit 0, no quorum -> exit 8, nobody
-> exit 4, --json, members found through conf's membership, a 4lw whitelist without mntr/conf.
Ports: $ZABKEEPER_BASE_PORT (29400) + 1..23 (tests/cli/CMakeLists.txt)."""
import os
import re
import shutil
import subprocess
import time

import pytest

from statuslib import mode, status, status_json, table, wait_for

LOCALCLUSTER = os.environ["ZIT_LOCALCLUSTER"]
BASE = int(os.environ["ZABKEEPER_BASE_PORT"])
IDS = (1, 2, 3)
ALL = ",".join("127.0.0.1:%d" % (BASE + i) for i in IDS)


def lc(*args, extra=None):
    env = dict(os.environ)
    if extra is not None:
        env["ZABKEEPER_EXTRA_CONFIG"] = extra
    return subprocess.run([LOCALCLUSTER, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120, check=True).stdout


def serving(ids):
    return all(mode(BASE + i) in ("leader", "follower") for i in ids)


def leader_id():
    for i in IDS:
        if mode(BASE + i) == "leader":
            return i
    return None


def restore():
    for i in IDS:
        lc("start", i)
    wait_for(lambda: serving(IDS), 60, "all three members to serve")


@pytest.fixture(scope="module", autouse=True)
def ensemble():
    lc("down")
    shutil.rmtree(os.environ["ZABKEEPER_CLUSTER_DIR"], ignore_errors=True)  # ports, old state
    lc("up", 3, extra="")
    yield
    lc("down")


@pytest.fixture(autouse=True)
def all_up():
    restore()
    yield


def write_some():
    subprocess.run([os.environ["ZABCTL_BIN"], "-s", ALL, "create", "-s", "/status-", "x"],
                   check=True, capture_output=True, timeout=30)


def test_all_up_every_row():
    write_some()
    rc, out, err = status(ALL)
    assert rc == 0, out + err
    rows, tail = table(out)
    assert [r["ID"] for r in rows] == ["1", "2", "3"], out
    modes = sorted(r["MODE"] for r in rows)
    assert modes == ["follower", "follower", "leader"], out
    for r in rows:
        assert r["ZXID"].startswith("0x"), out
        assert r["LAG"].isdigit(), out
        assert r["CONNS"].isdigit() and r["OUTSTANDING"].isdigit(), out
        assert "/" in r["LAT AVG/MAX MS"], out
    assert any(line.startswith("leader: %d;" % leader_id()) and line.endswith(": OK")
               for line in tail), out
    assert "voters serving: 3 of 3 (quorum 2)" in out, out


def test_json_parses_and_agrees():
    write_some()
    rc, doc = status_json(ALL)
    assert rc == 0 and doc["ok"] is True, doc
    assert doc["leader"] == leader_id(), doc
    assert (doc["voters"], doc["voters_serving"], doc["quorum"]) == (3, 3, 2), doc
    assert doc["voters_from"] == "membership", doc
    assert [m["id"] for m in doc["members"]] == [1, 2, 3], doc
    lead = [m for m in doc["members"] if m["mode"] == "leader"][0]
    for m in doc["members"]:
        assert m["listed"] is True and m["role"] == "participant", m
        assert m["words"] == {"srvr": "ok", "mntr": "ok", "conf": "ok"}, m
        assert int(m["zxid"], 16) >> 32 == m["epoch"], m
        if m["epoch"] == lead["epoch"]:
            assert m["lag"] == max(0, lead["counter"] - m["counter"]), m
        assert m["connections"] >= 1 and m["outstanding"] >= 0, m
        assert m["latency_max_ms"] >= m["latency_min_ms"] >= 0, m
        assert m["error"] is None, m


def test_members_found_through_membership():
    rc, doc = status_json("127.0.0.1:%d" % (BASE + 2))
    assert rc == 0, doc
    got = {m["id"]: m for m in doc["members"]}
    assert sorted(got) == [1, 2, 3], doc
    assert got[2]["listed"] is True and got[2]["position"] == 1, doc
    assert got[1]["listed"] is False and got[1]["address"] == "127.0.0.1:%d" % (BASE + 1), doc
    assert doc["voters_serving"] == 3, doc


def test_one_follower_killed_still_ok():
    lead = leader_id()
    victim = [i for i in IDS if i != lead][0]
    lc("kill", victim)
    rc, out, err = status(ALL)
    assert rc == 0, out + err
    rows, _ = table(out)
    assert [r["ID"] for r in rows] == ["1", "2", "3"], out
    row = rows[victim - 1]
    assert row["MODE"] == "unreachable" and row["ZXID"] == "-", out
    assert "Connection refused" in row["ADDRESS"], out
    assert "voters serving: 2 of 3 (quorum 2)" in out, out
    rc, doc = status_json(ALL)
    assert rc == 0, doc
    dead = [m for m in doc["members"] if m["mode"] == "unreachable"]
    assert [m["id"] for m in dead] == [victim] and dead[0]["error"], doc


def test_leader_killed_ok_once_reelected():
    old = leader_id()
    lc("kill", old)
    wait_for(lambda: leader_id() not in (None, old), 60, "a new leader")
    rc, out, err = wait_for(lambda: (lambda r: r if r[0] == 0 else None)(status(ALL)), 30,
                            "status to exit 0 after the re-election")
    rows, _ = table(out)
    assert rows[old - 1]["MODE"] == "unreachable", out
    assert sorted(r["MODE"] for r in rows) == ["follower", "leader", "unreachable"], out


def test_two_killed_no_quorum():
    lead = leader_id()
    for i in [i for i in IDS if i != lead]:
        lc("kill", i)
    rc, out, err = status(ALL)
    assert rc == 8, out + err
    # the survivor may still lead for a tick: its followers' links closed, so it steps down at
    # its next tick (as ZooKeeper's leader, whose LearnerHandlers die with their sockets)
    assert "NO QUORUM" in out and re.search(r"voters serving: [01] of 3 \(quorum 2\)", out), out
    # and then looks for a leader
    wait_for(lambda: mode(BASE + lead) is None, 30, "the survivor to stop serving")
    rc, doc = status_json(ALL)
    assert rc == 8 and doc["ok"] is False and doc["leader"] is None, doc
    # a member that does not serve answers no conf either: known by its position in HOSTS
    survivor = [m for m in doc["members"] if m["position"] == lead][0]
    assert survivor["mode"] == "looking" and survivor["id"] is None, doc
    assert survivor["words"]["srvr"] == "not serving", doc


def test_all_killed_unreachable():
    for i in IDS:
        lc("kill", i)
    rc, out, err = status(ALL)
    assert rc == 4, out + err
    rows, _ = table(out)
    assert [r["MODE"] for r in rows] == ["unreachable"] * 3, out
    assert [r["ID"] for r in rows] == ["#1", "#2", "#3"], out


def test_whitelist_without_mntr_conf():
    """4lw.commands.whitelist=srvr (ZooKeeper's default): members by position, voters = HOSTS."""
    lc("down")
    lc("up", 3, extra="4lw.commands.whitelist=srvr")
    try:
        deadline = time.monotonic() + 30  # `up` waits for a leader; a follower may still sync
        while True:
            rc, out, err = status(ALL)
            rows, tail = table(out)
            if rc != 0 or all(r["MODE"] in ("leader", "follower") for r in rows) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert rc == 0, out + err
        assert [r["ID"] for r in rows] == ["#1", "#2", "#3"], out
        assert sorted(r["MODE"] for r in rows) == ["follower", "follower", "leader"], out
        assert any("mntr, conf not in 4lw.commands.whitelist" in line for line in tail), out
        assert "[voters = listed hosts]" in out, out
        rc, doc = status_json(ALL)
        assert doc["voters_from"] == "listed hosts" and doc["voters"] == 3, doc
        assert all(m["id"] is None and m["words"]["conf"] == "not in whitelist"
                   for m in doc["members"]), doc
        lc("kill", [i for i in IDS if i != leader_id()][0])
        rc, out, err = status(ALL)
        assert rc == 0 and "voters serving: 2 of 3" in out, out + err
    finally:
        lc("down")
        lc("up", 3, extra="")
