"""Open membership bugs (issue 13), each a reproducer that fails today; not registered in ctest
(like the other *_pending.py files) until they are fixed. Ports: ZABKEEPER_BASE_PORT, default
28210 (client base+id, peer base+10+id, election base+20+id), state in cluster/membership-pending.

1. Members that spell a host differently (localhost / 127.0.0.1) form one ensemble, but the first
   reconfig makes each member whose spelling differs from the leader's drop and reopen its links
   (src/server/peer.c, peer_net_set_members compares the host strings): it goes looking, logs
   "lost the quorum; disconnecting N clients" and its clients see a disconnect (an in-flight
   request gets ConnectionLoss), although no member's address changed.
2. A removed member that is added back while it runs never follows again: a committed change
   that removes a member sets z->out (src/consensus/members.c, cfg_settle), which is never
   cleared: the member takes no message but votes (core.c on_receive) and stays quiet
   (election.c), so the re-add commits (a quorum of the others has it) with a voter that will
   never sync. ZooKeeper's removed server follows on as a non-voting participant and votes again
   once added back (tests/compat/test_reconfig_compat.py).
3. The same member restarted with its data and a joiner's zoo.cfg (the current servers plus
   itself) syncs, applies its own removal again and goes quiet the same way.
4. Even a wiped joiner does not get in when its id was added and removed before: the sync replays
   the entry that added it and the one that removed it again, and it goes quiet (the first
   removal and rejoin of that id work). Replacing a member under the same id is the usual case.

Run by hand: /usr/bin/python3 -m pytest tests/integration/test_membership_pending.py
"""
import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ensemble import wait_for  # noqa: E402
from test_membership import HERE, Members, close, reconfig, three  # noqa: E402

from kazoo.protocol.states import KazooState  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def ens():
    e = Members(os.path.join(HERE, "..", "..", "cluster", "membership-pending"), 28210)
    yield e
    e.down()


def test_reconfig_keeps_clients_of_members_spelling_hosts_differently(ens):
    ens.setup(3)
    for i in (1, 2, 3):
        ens.write(i, [ens.line(j, "localhost" if (i + j) % 2 else "127.0.0.1")
                      for j in (1, 2, 3)])
    ens.launch((1, 2, 3))
    ens.serving((1, 2, 3))
    clients, states = {}, {}
    for i in (1, 2, 3):
        clients[i] = ens.kclient((i,))
        states[i] = []
        clients[i].add_listener(states[i].append)
    offsets = {i: ens.log_size(i) for i in (1, 2, 3)}
    admin = ens.kclient((1, 2, 3), auth=True)
    reconfig(admin, leaving="9")  # not a member: a new version, nothing else changes
    time.sleep(2)
    ens.serving((1, 2, 3))
    close(admin, *clients.values())
    dropped = {i: s for i, s in states.items() if KazooState.SUSPENDED in s}
    logs = {i: [l for l in ens.log_since(i, offsets[i]).splitlines()
                if "lost the quorum" in l or "role looking" in l] for i in (1, 2, 3)}
    assert not dropped and not any(logs.values()), \
        "a reconfig that changes no address disconnected clients %s; logs: %s" % (dropped, logs)


def removed_follower(ens):
    leader = three(ens)
    f = [i for i in (1, 2, 3) if i != leader][0]
    rest = [i for i in (1, 2, 3) if i != f]
    admin = ens.kclient(rest, auth=True)
    reconfig(admin, leaving=str(f))
    ens.serving(rest)
    return f, rest, admin


def as_joiner(ens, f, rest, wipe):
    """Member f stopped and started with the current servers plus itself (its data wiped or
    kept); True if it serves within 15 s."""
    ens.stop(f)
    d = os.path.join(ens.dir, "m%d" % f)
    for name in os.listdir(d):
        if ".dynamic." in name:
            os.unlink(os.path.join(d, name))
    if wipe:
        shutil.rmtree(os.path.join(d, "data"))
    ens.write(f, [ens.line(j) for j in sorted(rest + [f])])
    ens.launch((f,))
    try:
        wait_for(lambda: ens.mode(f) is not None, 15, "member %d to serve as a joiner" % f)
        return True
    except pytest.fail.Exception:
        return False


def test_readd_removed_member_without_restart(ens):
    f, rest, admin = removed_follower(ens)
    reconfig(admin, joining=ens.line(f))
    close(admin)
    wait_for(lambda: ens.mode(f) == "follower", 15, "re-added member %d to follow" % f)


def test_removed_member_rejoins_with_its_data(ens):
    f, rest, admin = removed_follower(ens)
    assert as_joiner(ens, f, rest, wipe=False), \
        "member %d, removed, then restarted with its data as a joiner, does not serve" % f
    reconfig(admin, joining=ens.line(f))
    close(admin)
    ens.serving((1, 2, 3))


def test_reused_id_rejoins_after_second_removal(ens):
    f, rest, admin = removed_follower(ens)
    assert as_joiner(ens, f, rest, wipe=True)  # the first time works
    reconfig(admin, joining=ens.line(f))
    ens.serving((1, 2, 3))
    reconfig(admin, leaving=str(f))
    ens.serving(rest)
    close(admin)
    assert as_joiner(ens, f, rest, wipe=True), \
        "member %d, wiped and started as a joiner after its second removal, does not serve" % f
