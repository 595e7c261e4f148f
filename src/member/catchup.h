/* Catch-up of a member that is too far behind for a DIFF: the leader streams its newest
 * snapshot file and the committed log records after it, in bounded chunks with flow control;
 * the member stores the file as it comes (resumable across reconnects) and installs it when the
 * consensus core's SNAP arrives. The core only sees SNAP(zxid) without data; everything big
 * travels here, beside it, on the same FIFO link.
 *
 * Frames (all integers big-endian), told apart from consensus messages by their first byte,
 * 0xc1, which msgpack never uses:
 *   [0xc1][kind][snapshot zxid:8] then
 *   BEGIN    [file size:8][target zxid:8]      leader -> member: a stream to `target` starts
 *   CHUNK    [offset:8][bytes]                 file bytes
 *   FILEDONE                                    the whole file was sent
 *   LOGREC   [zxid:8][prev:8][record]          a committed record in (snapshot, target], after
 *                                               the one at prev (the snapshot's zxid first): a
 *                                               lost frame breaks the chain, never leaves a gap
 *   END      [target:8]                         the stream is complete
 *   RESUME   [offset:8]                         member -> leader: I already have this much
 * While a stream runs, the leader holds every other message for that member (the SNAP, the
 * proposals and NEWLEADER of the same sync) and sends them after END, so FIFO order is kept. */
#ifndef ZK_CATCHUP_H
#define ZK_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATCHUP_TAG 0xc1

struct member;
struct store;
struct catchup;

/* Uses the member's storage and network seams (member.h). */
struct catchup *catchup_new(struct member *m);
void catchup_free(struct catchup *cu);

/* ---- leader side ---- */
/* Begin a stream to `to` ending at `target` (the zxid of the core's SNAP). 0, or -1 if it
 * cannot start (logged; the SNAP is then not sent and the core resynchronises later). */
int catchup_start(struct catchup *cu, uint32_t to, int64_t target);
/* Is a stream to `to` running? Then every other message for it goes through catchup_hold. */
bool catchup_streaming(const struct catchup *cu, uint32_t to);
/* Keep an encoded message for after the stream. -1 if the held bytes would pass their bound:
 * the stream is dropped and the link reset (the member resumes later). */
int catchup_hold(struct catchup *cu, uint32_t to, const uint8_t *msg, size_t len);
/* Send what the links can take now; finish streams that are done. Call every loop turn and
 * when a link drains. */
void catchup_pump(struct catchup *cu);
/* The link to id went down: drop its stream (the partial file stays with the member). */
void catchup_peer_down(struct catchup *cu, uint32_t id);

/* ---- member side ---- */
/* A frame (first byte CATCHUP_TAG) from member `from`. Malformed or unexpected frames are
 * dropped with a rate-limited log line. */
void catchup_receive(struct catchup *cu, uint32_t from, const uint8_t *frame, size_t len);
/* Has a complete stream from `from` to `target` arrived (so a SNAP(target) can be installed)? */
bool catchup_ready(const struct catchup *cu, uint32_t from, int64_t target);
/* Install the completed stream into st (storage_install): apply() runs for each record.
 * 0, or -1 (logged). The stream is consumed either way. */
int catchup_install(struct catchup *cu, struct store *st,
                    int (*apply)(void *ctx, int64_t zxid, const void *rec, size_t len),
                    void *ctx);

#endif
