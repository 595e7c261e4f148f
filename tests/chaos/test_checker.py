#!/usr/bin/python3
"""The checker bites: synthetic histories with one planted fault each must be caught, and a clean
one must pass. Fast, no ensemble (CI test chaos_checker_bites)."""
import copy
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402


def hold(client, lock, token, start, end, told=None, why=None, pid=1):
    h = f"{client}:{pid}:{token}"
    return [{"ev": "start", "hold": h, "client": client, "lock": lock, "token": token, "t": start},
            {"ev": "end", "hold": h, "client": client, "lock": lock, "token": token,
             "start": start, "t": end, "told": told, "why": why, "writes_ok": 3, "writes_stale": 0}]


def member(nodes, digest="00000000000000aa", zxid="0x100000050", ephemerals="0"):
    return {"reachable": True, "nodes": nodes,
            "mntr": {"zk_tree_digest": digest, "zk_last_zxid": zxid,
                     "zk_ephemerals_count": ephemerals}}


def clean_run():
    hist = (hold("c1", "a", 10, 1.0, 2.0) + hold("c2", "a", 12, 2.1, 3.0) +
            hold("c3", "a", 20, 5.2, 5.5) + hold("c1", "b", 11, 1.5, 2.5) +
            hold("c2", "b", 21, 5.3, 5.6))
    resource = [{"ev": "write", "t": 1.1, "lock": "a", "token": 10, "hold": "c1:1:10", "ok": True},
                {"ev": "write", "t": 2.2, "lock": "a", "token": 12, "hold": "c2:1:12", "ok": True},
                {"ev": "write", "t": 5.3, "lock": "a", "token": 20, "hold": "c3:1:20", "ok": True}]
    writes = [{"ev": "ack", "op": "create", "path": "/chaos/data/w1-00000001", "value": "v1"},
              {"ev": "ack", "op": "set", "path": "/chaos/reg/w1", "value": "2"},
              {"ev": "unknown", "op": "create", "path": "/chaos/data/w1-00000003", "value": "v3"}]
    nodes = {"/chaos": {"data": "", "eph": 0},
             "/chaos/data/w1-00000001": {"data": "v1", "eph": 0},
             "/chaos/reg/w1": {"data": "4", "eph": 0}}  # a later value than acknowledged: fine
    return {"params": {"locks": ["a", "b"], "liveness_bound_s": 3.0, "t_end": 10.0},
            "hist": hist, "resource": resource, "writes": writes,
            "faults": [{"id": 1, "kind": "leader_kill_holding", "t_inject": 3.5, "t_heal": 4.0}],
            "attempts": [], "final": {f"m{i}": member(copy.deepcopy(nodes)) for i in (1, 2, 3)}}


def kinds(run):
    return checker.check(run)["violations_by_kind"]


class CheckerBites(unittest.TestCase):
    def test_clean_history_passes(self):
        v = checker.check(clean_run())
        self.assertTrue(v["ok"], v["violations"])
        self.assertAlmostEqual(v["stats"]["worst_recovery_s"], 1.3, places=3)

    def test_overlap_is_caught(self):
        run = clean_run()
        run["hist"] += hold("c4", "a", 13, 2.5, 2.8)  # while c2 (token 12) holds a, c2 never told
        self.assertEqual(kinds(run).get("mutual_exclusion"), 1)

    def test_overlap_told_late_is_a_violation(self):
        run = clean_run()
        run["hist"] = [r for r in run["hist"] if r["hold"] != "c2:1:12"]
        run["hist"] += hold("c2", "a", 12, 2.1, 3.0, told=2.9, why="lost")
        run["hist"] += hold("c4", "a", 13, 2.5, 2.8)
        self.assertEqual(kinds(run).get("mutual_exclusion"), 1)

    def test_documented_limit_is_counted_not_failed(self):
        run = clean_run()
        run["hist"] = [r for r in run["hist"] if r["hold"] != "c2:1:12"]
        run["hist"] += hold("c2", "a", 12, 2.1, 2.62, told=2.4, why="lost")
        run["hist"] += hold("c4", "a", 13, 2.5, 2.8)
        v = checker.check(run)
        self.assertTrue(v["ok"], v["violations"])
        self.assertEqual(len(v["limits"]), 1)
        self.assertAlmostEqual(v["limits"][0]["overlap_s"], 0.12, places=3)

    def test_unfinished_hold_overlaps(self):
        run = clean_run()
        run["hist"] += hold("c4", "b", 30, 7.0, 7.1)[:1]  # started, never ended
        run["hist"] += hold("c1", "b", 31, 8.0, 8.2)
        self.assertEqual(kinds(run).get("mutual_exclusion"), 1)

    def test_stale_token_accepted_is_caught(self):
        run = clean_run()
        run["resource"].append({"ev": "write", "t": 5.4, "lock": "a", "token": 12,
                                "hold": "c2:1:12", "ok": True})
        self.assertEqual(kinds(run).get("stale_token_accepted"), 1)

    def test_refused_stale_token_is_fine(self):
        run = clean_run()
        run["resource"].append({"ev": "write", "t": 5.4, "lock": "a", "token": 12,
                                "hold": "c2:1:12", "ok": False})
        v = checker.check(run)
        self.assertTrue(v["ok"], v["violations"])
        self.assertEqual(v["stats"]["resource_writes_rejected"], 1)

    def test_tokens_out_of_order_are_caught(self):
        run = clean_run()
        run["hist"] += hold("c4", "b", 5, 6.0, 6.2)  # after token 21, smaller
        self.assertEqual(kinds(run).get("fencing_order"), 1)

    def test_lost_create_is_caught(self):
        run = clean_run()
        del run["final"]["m2"]["nodes"]["/chaos/data/w1-00000001"]
        self.assertEqual(kinds(run).get("lost_write"), 1)

    def test_rolled_back_register_is_caught(self):
        run = clean_run()
        run["final"]["m3"]["nodes"]["/chaos/reg/w1"]["data"] = "1"
        self.assertEqual(kinds(run).get("lost_write"), 1)

    def test_unknown_outcome_is_not_required(self):
        run = clean_run()  # w1-00000003 had an unknown outcome and is absent: fine
        self.assertNotIn("/chaos/data/w1-00000003", run["final"]["m1"]["nodes"])
        self.assertTrue(checker.check(run)["ok"])

    def test_digest_divergence_is_caught(self):
        run = clean_run()
        run["final"]["m1"]["mntr"]["zk_tree_digest"] = "00000000000000bb"
        self.assertEqual(kinds(run).get("divergence"), 1)

    def test_ephemeral_leftover_is_caught(self):
        run = clean_run()
        run["final"]["m2"]["nodes"]["/chaos/locks/a/zkl-x-lock-0000000007"] = {"data": "",
                                                                             "eph": 0x1234}
        self.assertEqual(kinds(run).get("ephemeral_leftover"), 1)

    def test_unreaped_ttl_node_and_container_are_caught(self):
        run = clean_run()
        run["final"]["m1"]["nodes"]["/chaos/ttl/w1-00000006"] = {"data": "t", "eph": 0, "cv": 0}
        run["final"]["m2"]["nodes"]["/chaos/ctr/w1-00000003"] = {"data": "", "eph": 0, "cv": 2}
        v = checker.check(run)
        self.assertEqual(v["violations_by_kind"].get("not_reaped"), 2, v["violations"])

    def test_containers_that_may_stay_and_markers_pass(self):
        """A container still holding a child, one that never had a child (ZooKeeper keeps both),
        and ZooKeeper's negative container/TTL owner markers, which are no session's."""
        run = clean_run()
        for m in run["final"].values():
            m["nodes"].update({
                "/chaos/ctr/w1-00000003": {"data": "", "eph": -2**63, "cv": 1},
                "/chaos/ctr/w1-00000003/c": {"data": "", "eph": 0, "cv": 0},
                "/chaos/ctr/w1-00000015": {"data": "", "eph": -2**63, "cv": 0}})
        v = checker.check(run)
        self.assertTrue(v["ok"], v["violations"])

    def test_unreachable_member_is_caught(self):
        run = clean_run()
        run["final"]["m3"] = {"reachable": False, "error": "timeout", "nodes": {}, "mntr": {}}
        self.assertEqual(kinds(run).get("durability"), 1)

    def test_slow_recovery_is_caught(self):
        run = clean_run()
        run["faults"].append({"id": 2, "kind": "power_loss", "t_inject": 5.6, "t_heal": 5.7})
        self.assertEqual(kinds(run).get("liveness"), 1)  # no lock taken after 5.7

    def test_all_three_at_once(self):
        """The issue's case: an overlap, a stale token and a lost write in one history."""
        run = clean_run()
        run["hist"] += hold("c4", "a", 13, 2.5, 2.8)
        run["resource"].append({"ev": "write", "t": 5.4, "lock": "a", "token": 12,
                                "hold": "c2:1:12", "ok": True})
        del run["final"]["m1"]["nodes"]["/chaos/data/w1-00000001"]
        k = kinds(run)
        self.assertEqual((k.get("mutual_exclusion"), k.get("stale_token_accepted"),
                          k.get("lost_write")), (1, 1, 1))
        self.assertIn("VERDICT: FAIL", checker.render(checker.check(run)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
