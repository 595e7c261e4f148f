"""Apache Curator's recipes (Debian's libcurator-*-java 5.4, with the ZooKeeper 3.8 Java client)
against a 3-member zabkeeper ensemble: CuratorRecipes.java runs each recipe as an application
does and prints "ok NAME" or "FAIL NAME: why". LeaderLatch, LeaderSelector,
InterProcessSemaphoreV2, the read-write, semaphore-mutex and multi locks, DistributedBarrier and
DistributedDoubleBarrier, SharedCount, DistributedAtomicLong, DistributedQueue,
SimpleDistributedQueue, PathChildrenCache, TreeCache, CuratorCache (a persistent recursive
watch), PersistentNode, GroupMember, PersistentTtlNode, and the framework calls under them
(transactions, protected creates, containers, TTL nodes, added and removed watches, getConfig,
whoAmI). Then the leader is killed while a Curator client holds a lock and an ephemeral node.
The same program passes against Apache ZooKeeper 3.8 (standalone, extendedTypesEnabled).
"""
import os
import subprocess
import tempfile

import pytest

from ensemble import LOCALCLUSTER, Ensemble, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
JARS = ["curator-recipes", "curator-framework", "curator-client", "zookeeper", "zookeeper-jute",
        "guava", "slf4j-api", "slf4j-nop"]
CHECKS = ["leader_latch", "leader_selector", "semaphore", "locks", "barriers", "counters",
          "queues", "caches", "nodes", "framework"]


@pytest.fixture(scope="module")
def classes():
    jars = ["/usr/share/java/%s.jar" % j for j in JARS]
    if not all(os.path.exists(j) for j in jars) or subprocess.run(
            ["sh", "-c", "command -v javac && command -v java"], capture_output=True).returncode:
        pytest.skip("SKIPPED: javac or the Curator/ZooKeeper jars are missing "
                    "(Debian libcurator-recipes-java, libzookeeper-java, libslf4j-java)")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["javac", "-nowarn", "-cp", ":".join(jars), "-d", d,
                        os.path.join(HERE, "CuratorRecipes.java")], check=True, timeout=180,
                       capture_output=True)
        yield ":".join(jars + [d])


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-curator"), 28460)
    e.up(3, config=["extendedTypesEnabled=true"])
    yield e
    e.down()


def curator(classes, ens, base, checks, props=()):
    p = subprocess.run(["java", "-Densemble=true"] + list(props) +
                       ["-cp", classes, "CuratorRecipes", ens.hosts(), base] + checks,
                       capture_output=True, text=True, timeout=300)
    print(p.stdout)
    return p


def test_recipes(classes, ens):
    p = curator(classes, ens, "/recipes", CHECKS)
    ok = [line.split()[1] for line in p.stdout.splitlines() if line.startswith("ok ")]
    assert ok == CHECKS and p.returncode == 0, p.stdout + p.stderr


def test_lock_and_ephemeral_survive_a_killed_leader(classes, ens):
    leader = ens.leader()
    p = curator(classes, ens, "/failover", ["failover"],
                ["-Dkill=%s kill %d" % (LOCALCLUSTER, leader)])
    assert p.returncode == 0 and "ok failover" in p.stdout, p.stdout + p.stderr
    ens.start(leader)
    wait_for(lambda: ens.mode(leader) in ("follower", "leader"), 30, "the old leader to rejoin")
