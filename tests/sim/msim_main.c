/* member-sim: runs the whole-member simulator (msim.h) over a range of seeds, or replays one
 * with a trace, and prints one summary line ending in "violations N". On a violation it prints
 * the seed and the exact command that replays it, and exits 1 (with --expect-violation, the
 * planted-bug mode, it exits 0 only if a violation was found). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "member/member.h"
#include "msim.h"

struct cli {
    struct msim_opts o;
    uint64_t first, seeds;
    bool one, expect_violation;
    char sabotage[128];
    char replay[512]; /* the options that shape a run, as given */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: member-sim --members 3|5 --seeds N [--first-seed S] [options]\n"
            "       member-sim --members 3|5 --seed S --trace [options]\n"
            "options: --sabotage early-ack|early-reply|drop-error-update|keep-ephemerals|"
            "mark-ahead|read-ahead[,...]\n"
            "         --faults-ms MS --healed-ms MS --clients N\n"
            "         --no crash|pause|clock|partition|reset|drop|dup|diskfull|fsync|opfail|"
            "slowdisk|connreset|outage (repeatable)\n"
            "         --expect-violation (exit 0 only if some seed violates)\n");
    exit(2);
}

static unsigned parse_sabotage(const char *list)
{
    static const struct { const char *name; unsigned flag; } names[] = {
        {"early-ack", MEMBER_SABOTAGE_EARLY_ACK},
        {"early-reply", MEMBER_SABOTAGE_EARLY_REPLY},
        {"drop-error-update", MEMBER_SABOTAGE_DROP_ERROR_UPDATE},
        {"keep-ephemerals", MEMBER_SABOTAGE_KEEP_EPHEMERALS},
        {"mark-ahead", MEMBER_SABOTAGE_MARK_AHEAD},
        {"read-ahead", MEMBER_SABOTAGE_READ_AHEAD},
    };
    unsigned flags = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned f = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(t, names[i].name) == 0)
                f = names[i].flag;
        if (!f)
            usage();
        flags |= f;
    }
    return flags;
}

static unsigned parse_fault(const char *name)
{
    for (int f = 0; f < MF_COUNT; f++)
        if (strcmp(name, msim_fault_names[f]) == 0)
            return 1u << f;
    usage();
    return 0;
}

static void keep_for_replay(struct cli *c, const char *opt, const char *val)
{
    size_t n = strlen(c->replay);
    snprintf(c->replay + n, sizeof c->replay - n, " %s %s", opt, val);
}

/* An option with a value; false if `a` is not one. */
static bool parse_valued(struct cli *c, const char *a, const char *v)
{
    if (strcmp(a, "--members") == 0)
        c->o.members = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(a, "--seeds") == 0)
        c->seeds = strtoull(v, NULL, 10);
    else if (strcmp(a, "--first-seed") == 0)
        c->first = strtoull(v, NULL, 10);
    else if (strcmp(a, "--seed") == 0)
        c->first = strtoull(v, NULL, 10), c->seeds = 1, c->one = true;
    else if (strcmp(a, "--sabotage") == 0)
        c->o.sabotage = parse_sabotage(v), snprintf(c->sabotage, sizeof c->sabotage, "%s", v);
    else if (strcmp(a, "--faults-ms") == 0)
        c->o.faults_ms = strtoll(v, NULL, 10);
    else if (strcmp(a, "--healed-ms") == 0)
        c->o.healed_ms = strtoll(v, NULL, 10);
    else if (strcmp(a, "--clients") == 0)
        c->o.clients = atoi(v);
    else if (strcmp(a, "--no") == 0)
        c->o.no_faults |= parse_fault(v);
    else
        return false;
    if (strcmp(a, "--seeds") && strcmp(a, "--first-seed") && strcmp(a, "--seed") &&
        strcmp(a, "--members"))
        keep_for_replay(c, a, v);
    return true;
}

static void parse(struct cli *c, int argc, char **argv)
{
    *c = (struct cli){.o.members = 3, .first = 1, .seeds = 100};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--trace") == 0)
            c->o.trace = stdout, setvbuf(stdout, NULL, _IOLBF, 0); /* in step with the logs */
        else if (strcmp(a, "--expect-violation") == 0)
            c->expect_violation = true;
        else if (i + 1 >= argc || !parse_valued(c, a, argv[i + 1]))
            usage();
        else
            i++;
    }
    if (c->o.members < 1 || c->o.members > 7 || c->seeds == 0 || (c->o.trace && !c->one))
        usage();
}

/* A member that crashes the process (an assertion, a bad access) still names its seed: the
 * message is made before each seed, and the handler only writes it. */
static char crash_msg[768];
static volatile sig_atomic_t crash_len;

static void on_fatal_signal(int sig)
{
    if (crash_len > 0 && write(STDERR_FILENO, crash_msg, (size_t)crash_len) < 0)
        crash_len = 0; /* nothing more can be done from here */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_fatal_signals(void)
{
    const int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (signal(sigs[i], on_fatal_signal) == SIG_ERR)
            perror("signal");
}

struct totals {
    uint64_t seeds, steps, commits, acked, reads, crashes, installs, snapshots, expiries;
    int64_t sim_ms;
};

static void add(struct totals *t, const struct msim_result *r)
{
    t->seeds++;
    t->steps += r->steps;
    t->commits += r->commits;
    t->acked += r->acked;
    t->reads += r->reads;
    t->crashes += r->crashes;
    t->installs += r->installs;
    t->snapshots += r->snapshots;
    t->expiries += r->expiries;
    t->sim_ms += r->sim_ms;
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    struct cli c;
    parse(&c, argc, argv);
    catch_fatal_signals();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct totals t = {0};
    int violations = 0;
    for (uint64_t seed = c.first; seed < c.first + c.seeds; seed++) {
        struct msim_result r;
        c.o.seed = seed;
        int n = snprintf(crash_msg, sizeof crash_msg, "\nVIOLATION seed %" PRIu64 ": the process "
                         "died\nreplay: member-sim --members %u --seed %" PRIu64 "%s --trace\n",
                         seed, c.o.members, seed, c.replay);
        crash_len = n > 0 && (size_t)n < sizeof crash_msg ? n : 0;
        violations = msim_run(&c.o, &r);
        add(&t, &r);
        if (violations) {
            fprintf(c.expect_violation ? stdout : stderr,
                    "VIOLATION seed %" PRIu64 ": %s\nreplay: member-sim --members %u --seed %"
                    PRIu64 "%s --trace\n", seed, r.what, c.o.members, seed, c.replay);
            break;
        }
    }
    double secs = elapsed(&t0);
    printf("member-sim: members %u seeds %" PRIu64 " steps %" PRIu64 " commits %" PRIu64
           " acked %" PRIu64 " reads %" PRIu64 " crashes %" PRIu64 " installs %" PRIu64
           " snapshots %" PRIu64 " expiries %" PRIu64 " simulated %.0fs in %.1fs (%.1f seeds/s, "
           "%.0f steps/s) violations %d\n", c.o.members, t.seeds, t.steps, t.commits, t.acked,
           t.reads, t.crashes, t.installs, t.snapshots, t.expiries, (double)t.sim_ms / 1000.0,
           secs, secs > 0 ? (double)t.seeds / secs : 0.0, secs > 0 ? (double)t.steps / secs : 0.0,
           violations);
    if (c.expect_violation)
        return violations ? 0 : 1;
    return violations ? 1 : 0;
}
