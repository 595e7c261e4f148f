/* Shared by fuzz_apply and fuzz_client: a small store with the things that make the store's code
 * paths differ (live, second and closed sessions, ephemerals, ACLs, a container with a child, a TTL
 * node, sequential nodes), and jute request bodies of every opcode built from fuzzer input. */
#ifndef ZK_FUZZ_STORE_H
#define ZK_FUZZ_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "fuzz_input.h"
#include "proto/jute.h"
#include "store/store.h"

#define FZS_LIVE ((int64_t)0x0100000000000001LL)  /* a live session, owns /e */
#define FZS_LIVE2 ((int64_t)0x0100000000000002LL) /* another live session */
#define FZS_DEAD ((int64_t)0x0100000000000003LL)  /* created, given /e2, then closed */
#define FZS_DATA_MAX 4096                          /* generated data stays small: speed */

struct fzs {
    struct store *st;
    int64_t zxid;      /* of the last applied txn */
    int64_t time_ms;   /* of the last applied txn */
    uint64_t notified; /* watch notifications delivered */
    const uint8_t *reader_ids; /* identities of the watching connection (fuzz_client) */
    uint32_t reader_ids_len;
    struct jute_writer reply;
};

/* Builds the base tree. extended: TTL nodes allowed; small_data: max_data_len 1024. */
void fzs_init(struct fzs *s, bool extended, bool small_data);
void fzs_free(struct fzs *s);

/* Applies a txn at the next zxid; returns the reply err. Aborts if store_apply fails (only
 * memory exhaustion makes it fail, and the fuzzer does not inject that). */
int32_t fzs_apply(struct fzs *s, const struct store_txn *txn);

/* The store's snapshot appended to out (store_snapshot_write with a memory sink). */
void fzs_snapshot(const struct store *st, struct jute_writer *out);

/* A session id: mostly the base ones, sometimes 0, INT64_MIN or any from the input. */
int64_t fzs_session(struct fz *in);
/* A jute vector<Id> of a caller's identities (NULL/0: none); may be raw input. */
const uint8_t *fzs_identities(struct fz *in, uint32_t *len);
/* A request opcode: every write, read and session opcode, sometimes any int32. */
int32_t fzs_opcode(struct fz *in, bool writes_only);
/* The body of a request of that opcode, mostly well-formed, sometimes raw input bytes. */
void fzs_body(struct fz *in, int32_t type, struct jute_writer *out);

#endif
