#!/usr/bin/python3
"""Checks the histories of a chaos run (tests/chaos/run) offline.

    checker.py RUNDIR        prints the verdict, writes RUNDIR/verdict.json, exits 1 on violations

A run directory holds (all times are CLOCK_MONOTONIC seconds, shared by every process here):
  run.json            parameters: members, locks, session_timeout_ms, liveness_bound_s, t_end ...
  hist-*.jsonl        lock holds ("start" when the holder began, "end" with told/why, writes)
  resource.jsonl      every write the protected resource was offered: token, accepted or not
  writes-*.jsonl      writers' acknowledged ("ack") and unknown-outcome writes
  faults.jsonl        faults: kind, t_inject, t_heal, targets
  final/m<id>.json    each member's state after the run, all healed: mntr and the /chaos tree

Rules (docs/reliability.md):
  mutual exclusion  two holds of one lock overlap only if the earlier holder had been told its
                    session was lost (zabctl's SIGTERM) before the later one started: that is the
                    recipe's one documented limit, counted apart as "limit" and never a violation;
  fencing           tokens of one lock strictly increase in acquisition order; the resource never
                    accepted a token below one it had accepted before;
  durability        every acknowledged create is on every member with its value, every register
                    holds its last acknowledged value or a later one; all tree digests and last
                    zxids are equal; no ephemeral node remains (every session is dead by then,
                    the writers' abandoned ones included);
  reaping           no TTL node (/chaos/ttl, TTLs <= 1.5 s) and no emptied container (/chaos/ctr,
                    no children but cversion > 0) remains: the leader reaped them;
  liveness          after each fault heals every lock is acquired again within the bound.
"""
import glob
import json
import os
import sys


def load_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line torn by a kill: never an acknowledged record
    return out


def load_run(d):
    run = {"params": json.load(open(os.path.join(d, "run.json")))}
    run["hist"] = [r for p in sorted(glob.glob(os.path.join(d, "hist-*.jsonl"))) for r in load_jsonl(p)]
    run["resource"] = load_jsonl(os.path.join(d, "resource.jsonl")) if os.path.exists(
        os.path.join(d, "resource.jsonl")) else []
    run["writes"] = [r for p in sorted(glob.glob(os.path.join(d, "writes-*.jsonl"))) for r in load_jsonl(p)]
    run["faults"] = load_jsonl(os.path.join(d, "faults.jsonl")) if os.path.exists(
        os.path.join(d, "faults.jsonl")) else []
    run["attempts"] = load_jsonl(os.path.join(d, "attempts.jsonl")) if os.path.exists(
        os.path.join(d, "attempts.jsonl")) else []
    run["final"] = {}
    for p in sorted(glob.glob(os.path.join(d, "final", "m*.json"))):
        run["final"][os.path.basename(p)[:-5]] = json.load(open(p))
    return run


def holds_of(hist, t_end):
    """Join start/end records into holds. A hold that never recorded its end (its holder was
    killed) is taken to last until t_end: never shorter than it really was."""
    holds = {}
    for r in hist:
        h = holds.setdefault(r["hold"], {"hold": r["hold"], "client": r["client"], "lock": r["lock"],
                                         "token": r["token"], "start": None, "end": None,
                                         "told": None, "why": None})
        if r["ev"] == "start":
            h["start"] = r["t"]
        elif r["ev"] == "end":
            h["start"] = h["start"] if h["start"] is not None else r["start"]
            h["end"], h["told"], h["why"] = r["t"], r.get("told"), r.get("why")
            h["writes_ok"], h["writes_stale"] = r.get("writes_ok", 0), r.get("writes_stale", 0)
    for h in holds.values():
        if h["end"] is None:
            h["end"], h["open"] = t_end, True
    return sorted(holds.values(), key=lambda h: (h["lock"], h["start"]))


def check(run):
    P = run["params"]
    t_end = P.get("t_end", float("inf"))
    V, limits, stats = [], [], {}

    def violation(kind, msg, **detail):
        V.append({"kind": kind, "msg": msg, **detail})

    holds = holds_of(run["hist"], t_end)
    stats["holds"] = len(holds)
    stats["holds_told_lost"] = sum(1 for h in holds if h["why"] == "lost")
    by_lock = {}
    for h in holds:
        by_lock.setdefault(h["lock"], []).append(h)

    # mutual exclusion: compare each hold with every earlier one still running when it began
    for lock, hs in by_lock.items():
        for i, b in enumerate(hs):
            for a in hs[:i]:
                if a["end"] <= b["start"]:
                    continue
                overlap = min(a["end"], b["end"]) - b["start"]
                if a["told"] is not None and a["why"] == "lost" and a["told"] <= b["start"]:
                    limits.append({"lock": lock, "earlier": a["hold"], "later": b["hold"],
                                   "overlap_s": round(overlap, 4),
                                   "told_before_s": round(b["start"] - a["told"], 4)})
                else:
                    violation("mutual_exclusion",
                              f"lock {lock}: {a['hold']} [{a['start']:.3f},{a['end']:.3f}] overlaps "
                              f"{b['hold']} from {b['start']:.3f} for {overlap:.3f}s; earlier holder "
                              + ("never told its session was lost" if a["told"] is None else
                                 f"told only at {a['told']:.3f}"),
                              lock=lock, earlier=a["hold"], later=b["hold"], overlap_s=overlap)

    # fencing: acquisition (start) order vs tokens
    for lock, hs in by_lock.items():
        for a, b in zip(hs, hs[1:]):
            if not b["token"] > a["token"]:
                violation("fencing_order", f"lock {lock}: token {b['token']} of {b['hold']} (started "
                          f"{b['start']:.3f}) not above {a['token']} of {a['hold']} (started "
                          f"{a['start']:.3f})", lock=lock)
    highest, accepted, rejected = {}, 0, 0
    for r in run["resource"]:
        if r.get("ev") != "write":
            continue
        hi = highest.get(r["lock"])
        if r["ok"]:
            accepted += 1
            if hi is not None and r["token"] < hi:
                violation("stale_token_accepted", f"lock {r['lock']}: resource accepted token "
                          f"{r['token']} from {r['hold']} after accepting {hi}", lock=r["lock"])
            highest[r["lock"]] = max(hi or r["token"], r["token"])
        else:
            rejected += 1
    stats["resource_writes_accepted"], stats["resource_writes_rejected"] = accepted, rejected

    # durability
    acks = [w for w in run["writes"] if w["ev"] == "ack"]
    stats["acked_writes"] = len(acks)
    stats["unknown_writes"] = sum(1 for w in run["writes"] if w["ev"] == "unknown")
    for ev in ("container", "ttl", "abandoned"):
        stats[ev] = sum(1 for w in run["writes"] if w["ev"] == ev)
    stats["multis"] = sum(1 for w in acks if w.get("multi"))
    final = run["final"]
    if not final:
        violation("durability", "no final member state was recorded")
    last_set = {}
    for w in acks:
        if w["op"] == "set":
            last_set[w["path"]] = max(last_set.get(w["path"], 0), int(w["value"]))
    lost = 0
    for m, st in sorted(final.items()):
        if not st.get("reachable", False):
            violation("durability", f"{m} did not answer after the run: {st.get('error')}", member=m)
            continue
        nodes = st["nodes"]
        for w in acks:
            if w["op"] != "create":
                continue
            n = nodes.get(w["path"])
            if n is None or n["data"] != w["value"]:
                lost += 1
                violation("lost_write", f"{m}: acknowledged create {w['path']}={w['value']!r} "
                          + ("missing" if n is None else f"holds {n['data']!r}"), member=m,
                          path=w["path"])
        for path, v in last_set.items():
            n = nodes.get(path)
            got = None
            try:
                got = int(n["data"]) if n is not None else None
            except ValueError:
                pass
            if got is None or got < v:
                lost += 1
                violation("lost_write", f"{m}: {path} acknowledged up to {v}, member holds "
                          f"{None if n is None else n['data']!r}", member=m, path=path)
        # a session's ephemeral has its (positive) session id as owner; containers and TTL
        # nodes may show ZooKeeper's negative markers
        eph = [p for p, n in nodes.items() if (n.get("eph") or 0) > 0]
        if eph:
            violation("ephemeral_leftover", f"{m}: {len(eph)} ephemeral node(s) of dead sessions "
                      f"remain {P.get('dump_after_s', '?')}s after the last client stopped: "
                      + ", ".join(f"{p} (session 0x{nodes[p]['eph']:x})" for p in eph[:5]),
                      member=m)
        unreaped = [p for p, n in nodes.items()
                    if p.startswith("/chaos/ttl/") or (p.startswith("/chaos/ctr/") and
                                                       p.count("/") == 3 and n.get("cv", 0) > 0)]
        unreaped = [p for p in unreaped if not any(q.startswith(p + "/") for q in nodes)]
        if unreaped:
            violation("not_reaped", f"{m}: {len(unreaped)} TTL node(s) or emptied container(s) "
                      f"remain {P.get('dump_after_s', '?')}s after the last client stopped: "
                      + ", ".join(unreaped[:5]), member=m)
        count = st.get("mntr", {}).get("zk_ephemerals_count")
        if count not in (None, "0") and not eph:
            violation("ephemeral_leftover", f"{m}: mntr zk_ephemerals_count={count} outside /chaos",
                      member=m)
    stats["lost_writes"] = lost
    reach = {m: st for m, st in final.items() if st.get("reachable")}
    for key in ("zk_tree_digest", "zk_last_zxid"):
        vals = {m: st.get("mntr", {}).get(key) for m, st in reach.items()}
        if len(set(vals.values())) > 1:
            violation("divergence", f"{key} differs between members: {vals}")
    stats["digests"] = {m: st.get("mntr", {}).get("zk_tree_digest") for m, st in reach.items()}

    # liveness
    bound = P.get("liveness_bound_s", 30.0)
    starts = {lock: sorted(h["start"] for h in hs) for lock, hs in by_lock.items()}
    worst, worst_fault, recov = 0.0, None, []
    for f in run["faults"]:
        heal = f.get("t_heal")
        if heal is None:
            violation("liveness", f"fault {f['id']} {f['kind']} never healed")
            continue
        per_lock = {}
        for lock in P.get("locks", sorted(starts)):
            nxt = next((t for t in starts.get(lock, []) if t >= heal), None)
            per_lock[lock] = None if nxt is None else nxt - heal
        missing = [l for l, r in per_lock.items() if r is None]
        r = max((v for v in per_lock.values() if v is not None), default=0.0)
        recov.append({"fault": f["id"], "kind": f["kind"], "recovery_s": None if missing else r})
        if missing or r > bound:
            violation("liveness", f"fault {f['id']} {f['kind']} healed at {heal:.3f}: locks "
                      + (f"{missing} never acquired again" if missing else
                         f"re-acquired only after {r:.2f}s (bound {bound}s)"), fault=f["id"])
        if not missing and r >= worst:
            worst, worst_fault = r, f"{f['id']} {f['kind']}"
    stats["worst_recovery_s"] = round(worst, 3)
    stats["worst_recovery_fault"] = worst_fault
    stats["faults_by_kind"] = {}
    for f in run["faults"]:
        stats["faults_by_kind"][f["kind"]] = stats["faults_by_kind"].get(f["kind"], 0) + 1
    rcs = {}
    for a in run["attempts"]:
        rcs[str(a["rc"])] = rcs.get(str(a["rc"]), 0) + 1
    stats["zabctl_exit_codes"] = rcs
    stats["limit_overlaps"] = len(limits)
    kinds = {}
    for v in V:
        kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
    return {"ok": not V, "violations": V, "violations_by_kind": kinds, "limits": limits,
            "recoveries": recov, "stats": stats}


def render(verdict, params=None):
    s = verdict["stats"]
    out = []
    if params:
        out.append(f"run: seed {params.get('seed')} members {params.get('members')} "
                   f"minutes {params.get('minutes')} mode {params.get('mode')} "
                   f"session timeout {params.get('session_timeout_ms')} ms")
    out.append(f"lock holds: {s['holds']} (told lost: {s['holds_told_lost']}); zabctl exits "
               f"{s['zabctl_exit_codes']}; resource writes accepted {s['resource_writes_accepted']}"
               f", refused as stale {s['resource_writes_rejected']}")
    out.append(f"acknowledged writes: {s['acked_writes']} (outcome unknown: {s['unknown_writes']})"
               f"; lost: {s['lost_writes']}")
    out.append(f"self-cleaning writes: {s.get('multis', 0)} multis, {s.get('container', 0)} "
               f"emptied containers, {s.get('ttl', 0)} TTL nodes, {s.get('abandoned', 0)} "
               f"abandoned sessions with an ephemeral")
    out.append("faults: " + (", ".join(f"{k} {v}" for k, v in sorted(s["faults_by_kind"].items()))
                             or "none"))
    out.append(f"worst recovery after a heal: {s['worst_recovery_s']} s ({s['worst_recovery_fault']})")
    out.append(f"documented-limit overlaps (holder told lost before the next acquired): "
               f"{s['limit_overlaps']}")
    for l in verdict["limits"][:10]:
        out.append(f"  limit: lock {l['lock']} {l['earlier']} told {l['told_before_s']}s before "
                   f"{l['later']} started; overlap {l['overlap_s']}s")
    out.append(f"violations: {len(verdict['violations'])} {verdict['violations_by_kind']}")
    for v in verdict["violations"][:30]:
        out.append(f"  VIOLATION {v['kind']}: {v['msg']}")
    out.append("VERDICT: " + ("PASS" if verdict["ok"] else "FAIL"))
    return "\n".join(out)


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    run = load_run(argv[1])
    verdict = check(run)
    with open(os.path.join(argv[1], "verdict.json"), "w") as f:
        json.dump(verdict, f, indent=1)
    print(render(verdict, run["params"]))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
