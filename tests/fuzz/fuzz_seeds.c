/* fuzz_seeds DIR: writes the seed corpora DIR/<target>/ from the project's real encoders: log
 * records, snapshots of a small tree, Zab messages and epoch files, log-writer arenas, client
 * frames of every opcode (the ConnectRequest, then requests with well-formed bodies), fuzz_peer
 * programs that elect, write and forge, fuzz_apply programs of every write opcode, and zoo.cfg
 * files. Deterministic: the same tree gives the same files (tests/fuzz/make-seeds runs it; the
 * frames of real clients come from tests/fuzz/capture-client). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/assert.h"
#include "consensus/zab.h"
#include "fuzz_store.h"
#include "proto/zkproto.h"
#include "store/txnrec.h"

static const char *out_dir;

static void put_file(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_jw(const char *target, const char *name, const struct jute_writer *w)
{
    ZK_ASSERT(w->err == 0);
    put_file(target, name, w->data, w->len);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint8_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

/* ---- fuzz_records ---- */

static void records_txns(void)
{
    static const uint8_t body[] = {0, 0, 0, 2, '/', 'a', 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t auth[] = {0, 0, 0, 1, 0, 0, 0, 2, 'i', 'p', 0, 0, 0, 1, '1'};
    const struct store_txn txns[] = {
        {0x100000001LL, 1700000000000LL, 0x0100000000000001LL, 5, ZOP_CREATE, body, sizeof(body),
         auth, sizeof(auth)},
        {0x200000007LL, 1, 0, 0, ZOP_DELETECONTAINER, body, 6, NULL, 0},
        {0x300000001LL, 2, -1, -3, ZOP_CLOSESESSION, NULL, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(txns) / sizeof(txns[0]); i++) {
        uint8_t rec[256];
        rec[0] = 0; /* selector: txnrec */
        size_t n = txnrec_encode(&txns[i], rec + 1);
        char name[32];
        snprintf(name, sizeof(name), "txnrec-%zu", i);
        put_file("fuzz_records", name, rec, n + 1);
    }
}

static void snapshot_of(const struct store *st, const char *target, const char *name,
                        uint8_t selector)
{
    struct jute_writer w;
    jw_init(&w);
    jw_raw(&w, &selector, 1);
    fzs_snapshot(st, &w);
    put_jw(target, name, &w);
    jw_free(&w);
}

static void records_snapshots(void)
{
    struct fzs s;
    fzs_init(&s, true, false);
    snapshot_of(s.st, "fuzz_records", "snapshot-small-tree", 1);
    fzs_free(&s);
    struct store *empty = store_new(NULL);
    ZK_ASSERT(empty != NULL);
    snapshot_of(empty, "fuzz_records", "snapshot-empty", 1);
    store_free(empty);
}

static void records_zab(void)
{
    uint8_t buf[600];
    size_t n;
    static const uint8_t payload[] = "a txn record would be here";
    struct zab_entry e = {0x500000003ull, {payload, sizeof(payload)}};
    buf[0] = 2;
    ZK_ASSERT(zab_entry_encode(&e, buf + 1, sizeof(buf) - 1, &n) == 0);
    put_file("fuzz_records", "zab-entry", buf, n + 1);
    struct zab_epochs ep = {7, 6};
    buf[0] = 3;
    ZK_ASSERT(zab_epochs_encode(&ep, buf + 1, sizeof(buf) - 1, &n) == 0);
    put_file("fuzz_records", "zab-epochs", buf, n + 1);
    for (uint8_t t = ZAB_MSG_VOTE; t <= ZAB_MSG_TYPE_MAX; t++) {
        struct zab_msg m = {.type = t, .epoch = 3, .zxid = 0x300000002ull, .nonce = 0xabcdef,
                            .data = {t == ZAB_MSG_PROPOSAL ? payload : NULL,
                                     t == ZAB_MSG_PROPOSAL ? sizeof(payload) : 0}};
        buf[0] = 4;
        ZK_ASSERT(zab_msg_encode(&m, buf + 1, sizeof(buf) - 1, &n) == 0);
        char name[32];
        snprintf(name, sizeof(name), "zab-msg-%s", zab_msg_type_name(t));
        put_file("fuzz_records", name, buf, n + 1);
    }
    struct jute_writer a;
    jw_init(&a);
    uint8_t head[2] = {5, 200}; /* selector: arena; the walk never stops early */
    jw_raw(&a, head, 2);
    for (int i = 1; i <= 3; i++) {
        jw_long(&a, 0x100000000LL + i);
        uint8_t len = (uint8_t)(8 * i);
        jw_raw(&a, &len, 1);
        jw_raw(&a, payload, len);
    }
    put_jw("fuzz_records", "arena-3-records", &a);
    jw_free(&a);
}

/* ---- fuzz_client: ConnectRequest + one request of an opcode (bodies from fzs_body) ---- */

static void frame_begin(struct jute_writer *w, size_t *mark) { *mark = jw_begin_frame(w); }

static void connect_frame(struct jute_writer *w, int32_t version)
{
    static const uint8_t pw[ZK_PASSWD_LEN];
    size_t mark;
    frame_begin(w, &mark);
    jw_int(w, version);
    jw_long(w, 0);
    jw_int(w, 30000);
    jw_long(w, 0);
    jw_bytes(w, pw, ZK_PASSWD_LEN);
    jw_bool(w, false);
    jw_end_frame(w, mark);
}

/* A body for `type` from pseudo-random choices, forced to be well-formed (not raw). */
static void structured_body(int32_t type, struct jute_writer *body)
{
    uint8_t choices[256];
    for (size_t i = 0; i < sizeof(choices); i++) {
        choices[i] = rnd();
    }
    choices[0] = 0; /* fzs_body: not raw */
    struct fz in = {choices, sizeof(choices)};
    fzs_body(&in, type, body);
}

static void client_frames(void)
{
    static const int32_t ops[] = {ZOP_CREATE, ZOP_CREATE2, ZOP_CREATECONTAINER, ZOP_CREATETTL,
                                  ZOP_DELETE, ZOP_SETDATA, ZOP_SETACL, ZOP_CHECK, ZOP_MULTI,
                                  ZOP_DELETECONTAINER, ZOP_CLOSESESSION, ZOP_EXISTS, ZOP_GETDATA,
                                  ZOP_GETACL, ZOP_GETCHILDREN, ZOP_GETCHILDREN2,
                                  ZOP_CHECKWATCHES, ZOP_REMOVEWATCHES, ZOP_MULTIREAD,
                                  ZOP_SETWATCHES, ZOP_GETEPHEMERALS, ZOP_GETALLCHILDRENNUMBER,
                                  ZOP_SETWATCHES2, ZOP_ADDWATCH, ZOP_SYNC, ZOP_PING};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct jute_writer w, body;
        jw_init(&w);
        connect_frame(&w, (int32_t)(i % 4));
        for (int k = 0; k < 3; k++) { /* three requests: a watch set by one fires on another */
            jw_init(&body);
            int32_t type = k == 1 ? ZOP_GETDATA : ops[i];
            structured_body(type, &body);
            size_t mark;
            frame_begin(&w, &mark);
            jw_int(&w, k + 1);
            jw_int(&w, type);
            jw_raw(&w, body.data, body.len);
            jw_end_frame(&w, mark);
            jw_free(&body);
        }
        char name[48];
        snprintf(name, sizeof(name), "synthetic-%s", zk_op_name(ops[i]));
        put_jw("fuzz_client", name, &w);
        jw_free(&w);
    }
}

/* ---- fuzz_apply: programs (see fuzz_apply.c run_op) ---- */

static void apply_programs(void)
{
    for (int w = 0; w < 12; w++) { /* fzs_opcode's write list */
        struct jute_writer p;
        jw_init(&p);
        uint8_t variant = (uint8_t)(w % 4);
        jw_raw(&p, &variant, 1);
        for (int op = 0; op < 6; op++) {
            uint8_t head[] = {(uint8_t)(op * 30), (uint8_t)(2 * (op == 0 ? w : (w + op) % 12)),
                              (uint8_t)(op % 3)};
            jw_raw(&p, head, sizeof(head));
            jw_int(&p, op + 1);                    /* cxid */
            uint8_t tail[] = {(uint8_t)(op * 20), 41, 0}; /* dt, identities, body: structured */
            jw_raw(&p, tail, sizeof(tail));
            for (int k = 0; k < 40; k++) {
                uint8_t b = rnd();
                jw_raw(&p, &b, 1);
            }
        }
        uint8_t reap[] = {210, 0xff, 0xff, 240}; /* reap far in the future, then a snapshot */
        jw_raw(&p, reap, sizeof(reap));
        char name[48];
        snprintf(name, sizeof(name), "program-%02d", w);
        put_jw("fuzz_apply", name, &p);
        jw_free(&p);
    }
}

/* ---- fuzz_peer: programs (see fuzz_peer.c run_op) ---- */

static void peer_settle(struct jute_writer *p, int times)
{
    for (int i = 0; i < times; i++) {
        uint8_t op[] = {9, 7};
        jw_raw(p, op, sizeof(op));
    }
}

static void peer_writes(struct jute_writer *p, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t op[] = {6, (uint8_t)(i % 3), 8, 'p', 'a', 'y', 'l', 'o', 'a', 'd', (uint8_t)i};
        jw_raw(p, op, sizeof(op));
    }
    peer_settle(p, 1);
}

static void peer_forge(struct jute_writer *p, uint8_t to, uint8_t from, uint8_t live,
                       const struct zab_msg *m)
{
    uint8_t head[] = {3, to, from, live, m->type, m->flags, m->state, m->tag, (uint8_t)m->leader};
    jw_raw(p, head, sizeof(head));
    jw_int(p, (int32_t)m->epoch);
    jw_int(p, (int32_t)m->epoch2);
    jw_long(p, (int64_t)m->zxid);
    jw_long(p, (int64_t)m->zxid2);
    jw_long(p, (int64_t)m->nonce);
    uint8_t len = (uint8_t)m->data.len;
    jw_raw(p, &len, 1);
    jw_raw(p, m->data.data, len);
}

static void peer_programs(void)
{
    struct jute_writer p;
    uint8_t variant = 0x05; /* window 16, 64 outstanding */
    jw_init(&p);
    jw_raw(&p, &variant, 1);
    peer_settle(&p, 4);
    put_jw("fuzz_peer", "elect", &p);
    peer_writes(&p, 6);
    put_jw("fuzz_peer", "elect-and-write", &p);
    size_t base = p.len;
    for (uint8_t t = ZAB_MSG_VOTE; t <= ZAB_MSG_TYPE_MAX; t++) {
        p.len = base; /* the established ensemble, then forgeries of one type at everyone */
        for (uint8_t to = 0; to < 3; to++) {
            struct zab_msg m = {.type = t, .zxid = 1, .zxid2 = 1};
            peer_forge(&p, to, (uint8_t)((to + 1) % 3), 0x0f, &m);
            peer_forge(&p, to, (uint8_t)((to + 2) % 3), 0x0b, &m);
        }
        peer_settle(&p, 1);
        char name[48];
        snprintf(name, sizeof(name), "forge-%s", zab_msg_type_name(t));
        put_jw("fuzz_peer", name, &p);
    }
    p.len = base;
    for (uint8_t to = 0; to < 3; to++) {
        struct zab_msg fi = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = 0xfffffffeu, .nonce = 5};
        peer_forge(&p, to, (uint8_t)((to + 1) % 3), 0, &fi);
    }
    peer_settle(&p, 2);
    put_jw("fuzz_peer", "followerinfo-epoch-fffffffe", &p);
    jw_reset(&p);
    variant = 0x00; /* counter_max 3, window 4 */
    jw_raw(&p, &variant, 1);
    peer_settle(&p, 4);
    peer_writes(&p, 8);
    peer_settle(&p, 3);
    put_jw("fuzz_peer", "counter-exhaustion", &p);
    jw_free(&p);
}

/* ---- fuzz_config ---- */

static void config_files(void)
{
    static const char *const cfgs[][2] = {
        {"standalone", "tickTime=2000\ndataDir=/var/lib/zabkeeper\nclientPort=2181\n"
                       "maxClientCnxns=0\n"},
        {"ensemble-3", "# three members\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                       "dataDir=/var/lib/zabkeeper\nclientPort=2181\n"
                       "server.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888\n"
                       "server.3=10.0.0.3:2888:3888\n"},
        {"ensemble-5-observer", "tickTime=500\ninitLimit=20\nsyncLimit=4\ndataDir=/d\n"
                                "server.1=a:2888:3888;2181\nserver.2=b:2888:3888:participant;"
                                "0.0.0.0:2182\nserver.3=c:2888:3888\nserver.4=d:2888:3888\n"
                                "server.5=e:2888:3888\nserver.16=f:2888:3888:observer\n"},
        {"everything", "tickTime=2000\ndataDir=/d\ndataLogDir=/l\nclientPort=2181\n"
                       "clientPortAddress=127.0.0.1\nmaxClientCnxns=60\n"
                       "minSessionTimeout=4000\nmaxSessionTimeout=40000\n"
                       "jute.maxbuffer=1048575\nsnapCount=100000\nextendedTypesEnabled=true\n"
                       "4lw.commands.whitelist=srvr, ruok, mntr\n"
                       "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
                       "globalOutstandingLimit=1000\nznode.container.checkIntervalMs=60000\n"
                       "znode.container.maxPerMinute=10000\nlmdbMapSizeMB=1024\n"
                       "autopurge.purgeInterval=1\nreconfigEnabled=false\nunknown.key=1\n"},
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        struct jute_writer w;
        jw_init(&w);
        uint8_t dir = (uint8_t)i; /* myid 1, 2, 3 and "x" */
        jw_raw(&w, &dir, 1);
        jw_raw(&w, cfgs[i][1], strlen(cfgs[i][1]));
        put_jw("fuzz_config", cfgs[i][0], &w);
        jw_free(&w);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds CORPUS_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    records_txns();
    records_snapshots();
    records_zab();
    client_frames();
    apply_programs();
    peer_programs();
    config_files();
    return 0;
}
