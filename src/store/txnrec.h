/* Log record codec: a store_txn as one msgpack array
 *   [zxid:int64, time_ms:int64, session_id:int64, cxid:int32, type:int32, body:bin, auth:bin]
 * Fixed-width integers so a record's size is known up front and encoding needs no allocation;
 * decoding is zero-copy (body/auth point into the record) and rejects anything malformed. */
#ifndef ZK_TXNREC_H
#define ZK_TXNREC_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Bytes txnrec_encode writes for txn. */
size_t txnrec_size(const struct store_txn *txn);
/* Encode into out (txnrec_size bytes). Returns bytes written. */
size_t txnrec_encode(const struct store_txn *txn, uint8_t *out);
/* Decode; txn's body/auth point into rec. Returns 0, or -1 if rec is not a valid record. */
int txnrec_decode(const uint8_t *rec, size_t len, struct store_txn *txn);

#endif
