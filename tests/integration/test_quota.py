"""Quotas on a real 3-member ensemble whose members run with zookeeper.enforceQuota=true (here
as zoo.cfg's enforceQuota), as ZooKeeper 3.8 enforces hard quotas: what zkCli setquota -N/-B
creates under /zookeeper/quota turns a create or setData past countHardLimit/byteHardLimit into
QuotaExceeded (-125), whichever member the client writes through (a follower forwards the
write; the refusal comes out the same on every member), and nothing is applied. The stats stay
equal on every member.

Run by ctest (integ_quota) or by hand: /usr/bin/python3 -m pytest test_quota.py
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ensemble import Ensemble  # noqa: E402
import zkwire  # noqa: E402  (tests/compat, on the path through ensemble)

ZQUOTAEXCEEDED = -125
STATS = "/zookeeper/quota/hq/zookeeper_stats"


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "cluster", "integ-quota"), 28490)
    e.up(3, config=["enforceQuota=true"])
    yield e
    e.down()


def call(ens, i, op, body):
    """One request on a fresh session to member i: its error code."""
    c = zkwire.Conn(ens.client_port(i))
    try:
        c.handshake()
        return c.call(1, op, body)[2]
    finally:
        c.close()


def stats_everywhere(ens):
    out = set()
    for i in range(1, ens.n + 1):
        with ens.member_client(i) as zk:
            zk.sync(STATS)
            out.add(zk.get(STATS)[0])
    return out


def test_hard_quota_refuses_through_every_member(ens):
    with ens.member_client(1) as zk:
        zk.create("/hq/a", makepath=True)
        zk.ensure_path("/zookeeper/quota/hq")  # as zkCli setquota -N 4 -B 6 /hq does
        zk.create(STATS, b"count=0,bytes=0")
        zk.create("/zookeeper/quota/hq/zookeeper_limits",
                  b"count=-1,bytes=-1=;byteHardLimit=6;countHardLimit=4")
    assert stats_everywhere(ens) == {b"count=2,bytes=0"}
    leader = ens.leader()
    follower = next(i for i in range(1, ens.n + 1) if i != leader)
    assert call(ens, follower, zkwire.OP_CREATE, zkwire.create_body("/hq/b", b"1234")) == 0
    assert call(ens, leader, zkwire.OP_CREATE, zkwire.create_body("/hq/c")) == 0
    for i in (follower, leader):  # count 5 > 4
        assert call(ens, i, zkwire.OP_CREATE, zkwire.create_body("/hq/d")) == ZQUOTAEXCEEDED
    set_body = zkwire.ustring("/hq/b") + zkwire.buffer(b"1234567") + b"\xff\xff\xff\xff"
    assert call(ens, follower, zkwire.OP_SETDATA, set_body) == ZQUOTAEXCEEDED  # 7 bytes > 6
    assert stats_everywhere(ens) == {b"count=4,bytes=4"}
    with ens.member_client(follower) as zk:
        assert zk.exists("/hq/d") is None and zk.get("/hq/b")[0] == b"1234"
        zk.delete("/hq/c")
        zk.create("/hq/d")  # room again
    assert stats_everywhere(ens) == {b"count=4,bytes=4"}
