/* zab-sim: runs the seeded Zab simulator over a range of seeds (or replays one with a trace) and
 * prints one summary line; exits non-zero on the first violation, naming the seed to replay. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static void usage(void)
{
    fprintf(stderr, "usage: zab-sim --members 3|5 --seeds N [--first-seed S]\n"
                    "       zab-sim --members 3|5 --seed S [--trace]\n"
                    "       options: --sabotage minority-commit|skip-trunc|early-ack\n"
                    "                --hostile (a forging peer injects messages)\n"
                    "                --big (payloads up to 16 KiB, window_bytes 64 KiB)\n"
                    "                --plan grow|grow-twice|shrink|replace|while-down|remove-leader|\n"
                    "                       crash-proposed|crash-committed|observer-flip|dead-observers|\n"
                    "                       readd|readd-leader\n"
                    "                       (a membership schedule; --members is then the plan's)\n"
                    "                --sabotage new-quorum-only (with --plan)\n");
    exit(2);
}

static enum zab_sabotage parse_sabotage(const char *v)
{
    if (strcmp(v, "minority-commit") == 0) return ZAB_SABOTAGE_MINORITY_COMMIT;
    if (strcmp(v, "skip-trunc") == 0) return ZAB_SABOTAGE_SKIP_TRUNC;
    if (strcmp(v, "early-ack") == 0) return ZAB_SABOTAGE_EARLY_ACK;
    if (strcmp(v, "new-quorum-only") == 0) return ZAB_SABOTAGE_NEW_QUORUM_ONLY;
    usage();
    return ZAB_SABOTAGE_NONE;
}

int main(int argc, char **argv)
{
    struct sim_opts o = {.members = 3};
    uint64_t seeds = 100, first = 1;
    bool one = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--trace") == 0) { o.trace = stdout; continue; }
        if (strcmp(a, "--hostile") == 0) { o.hostile = true; continue; }
        if (strcmp(a, "--big") == 0) { o.big_payloads = true; continue; }
        if (v == NULL) usage();
        if (strcmp(a, "--members") == 0) o.members = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seeds") == 0) seeds = strtoull(v, NULL, 10);
        else if (strcmp(a, "--first-seed") == 0) first = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0) { first = strtoull(v, NULL, 10); seeds = 1; one = true; }
        else if (strcmp(a, "--sabotage") == 0) o.sabotage = parse_sabotage(v);
        else if (strcmp(a, "--plan") == 0) {
            o.plan = sim_plan_parse(v);
            if (o.plan == SIM_PLAN_COUNT) usage();
        }
        else usage();
        i++;
    }
    if (o.members < 1 || o.members > 7 || (o.trace && !one)) usage();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t steps = 0, msgs = 0, commits = 0, max_steps = 0, done = 0, forged = 0, refused = 0;
    uint64_t reconfigs = 0, rejoins = 0, rejoin_ticks = 0, snaps = 0;
    struct zab_counters st = {0};
    int rc = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++) {
        struct sim_result r;
        o.seed = seed;
        rc = sim_run(&o, &r);
        steps += r.steps;
        msgs += r.msgs;
        commits += r.commits;
        forged += r.forged;
        refused += r.refused;
        reconfigs += r.reconfigs;
        rejoins += r.rejoins;
        snaps += r.snaps;
        rejoin_ticks += r.rejoin_ticks;
        st.sessions_contested += r.counters.sessions_contested;
        st.followerinfo_forged += r.counters.followerinfo_forged;
        st.contests_conceded += r.counters.contests_conceded;
        max_steps = r.steps > max_steps ? r.steps : max_steps;
        done++;
        if (rc != 0) {
            fprintf(stderr, "VIOLATION seed %" PRIu64 ": %s\nreplay: zab-sim --members %u%s%s --seed %"
                    PRIu64 " --trace\n", seed, r.what, o.members, o.plan ? " --plan " : "",
                    o.plan ? sim_plan_name(o.plan) : "", seed);
            break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("members %u seeds %" PRIu64 " steps %" PRIu64 " (max %" PRIu64 "/seed) msgs %" PRIu64
           " commits %" PRIu64 " violations %d time %.1fs (%.0f msgs/s, %.0f commits/s)\n",
           o.members, done, steps, max_steps, msgs, commits, rc != 0, secs,
           secs > 0 ? (double)msgs / secs : 0.0, secs > 0 ? (double)commits / secs : 0.0);
    printf("snapshot syncs %" PRIu64 "\n", snaps);
    printf("rejoins %" PRIu64 " (restarted while a leader was established) in %.2f ticks on average\n",
           rejoins, rejoins ? (double)rejoin_ticks / (double)rejoins : 0.0);
    printf("sessions contested %" PRIu64 ": %" PRIu64 " FOLLOWERINFOs dropped as forged, %" PRIu64
           " conceded\n", st.sessions_contested, st.followerinfo_forged, st.contests_conceded);
    if (o.hostile) {
        printf("forged %" PRIu64 " refused %" PRIu64 "\n", forged, refused);
    }
    if (o.plan != SIM_PLAN_NONE) {
        printf("plan %s: %" PRIu64 " configuration changes committed\n", sim_plan_name(o.plan),
               reconfigs);
    }
    return rc != 0 ? 1 : 0;
}
