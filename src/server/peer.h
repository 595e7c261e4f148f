/* Member-to-member transport over TCP (libevent): every member keeps one outgoing connection to
 * each other member and sends on it only; it receives on the connections others opened to it.
 * One direction per connection keeps FIFO order per pair without any duplicate-connection rule.
 *
 * Frames are a 4-byte big-endian length + a msgpack message. A new connection starts with a
 * hello frame (magic, version, sender id, the sender's peer address); a connection speaking
 * garbage is refused with a log line. A member outside our configuration (a joiner, started with
 * a configuration that lists it) gets a link back to the address of its hello, as ZooKeeper's
 * QuorumCnxManager connects back, at most LEARNER_LINKS_MAX of them; the consensus core decides
 * what its messages may do. Without sslQuorum peers are not authenticated (as ZooKeeper without
 * quorum authentication): the peer port belongs on a trusted network. Outgoing queues are bounded:
 * a peer that stops reading is disconnected (the core resynchronises it later) rather than
 * letting the queue grow. Reconnects back off from 50 ms to 1 s. */
#ifndef ZK_PEER_H
#define ZK_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

struct event_base;
struct peer_net;

/* Frames are bounded by what a real message can be: a proposal (jute.maxbuffer plus its
 * record envelope), a PING's session activity or an app message (ZAB_APP_DATA_MAX), a snapshot
 * chunk. Snapshots travel in chunks (repl.c), never whole. */
#define PEER_FRAME_SLACK (128u << 10) /* above a record envelope (64 KiB, repl.c) */
#define PEER_QUEUE_MAX_DEFAULT (64u << 20) /* outgoing bytes queued for one peer before we cut it
                                             * (peerQueueMaxKB) */
#define PEER_DRAINED_BYTES (1u << 20) /* on_drained fires when a link's queue falls below this */

struct peer_callbacks {
    void (*on_message)(void *ctx, uint32_t from, const uint8_t *data, size_t len);
    void (*on_up)(void *ctx, uint32_t id);   /* our outgoing link to id is connected; may be NULL */
    void (*on_down)(void *ctx, uint32_t id); /* ...and lost */
    /* our outgoing link to id has less than PEER_DRAINED_BYTES queued again; may be NULL */
    void (*on_drained)(void *ctx, uint32_t id);
    void *ctx;
};

struct peer_net *peer_net_new(struct event_base *base, const struct zk_config *cfg,
                              const struct peer_callbacks *cbs);
/* Largest frame accepted from a member (depends on jute.maxbuffer). */
uint32_t peer_frame_max(const struct zk_config *cfg);
/* The queue bound of this transport (peerQueueMaxKB). */
size_t peer_net_queue_max(const struct peer_net *pn);
/* Bytes queued on our outgoing link to id (0 when it is down). */
size_t peer_net_queued(const struct peer_net *pn, uint32_t id);
/* Drop the link to id now (it reconnects with backoff); used when a peer cannot keep up. */
void peer_net_reset(struct peer_net *pn, uint32_t id, const char *why);
void peer_net_free(struct peer_net *pn);
/* Queue one message for `to`. Returns 0, or -1 if the link is down (the message is dropped:
 * the consensus core tolerates loss) or the queue limit was hit (the link is then reset). */
int peer_net_send(struct peer_net *pn, uint32_t to, const uint8_t *data, size_t len);
/* Write queued messages to the sockets now rather than on the next loop turn, so proposals
 * and forwarded requests reach the other members while this member fsyncs. */
void peer_net_push(struct peer_net *pn);
/* Is our outgoing link to id connected? */
int peer_net_is_up(const struct peer_net *pn, uint32_t id);

/* The configuration changed: links to members that left close, links to new ones open. 0, or
 * -1 if an address could not be resolved (logged; that member stays unlinked). */
int peer_net_set_members(struct peer_net *pn, const struct zk_member *members, int n);

/* sslQuorum: take rotated TLS stores for new links (tlsctx.h). */
void peer_net_reload_tls(struct peer_net *pn);

#endif
