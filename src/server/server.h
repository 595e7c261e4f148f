/* One zabkeeper member as a process: the libevent loop and the production side of the member's
 * three seams (src/member/member.h): client sockets (clientio.c), the peer transport (peer.c),
 * the disk (storage.c) and the clock. The member's logic itself does no I/O.
 *
 * The loop (design.md #5): each turn, libevent delivers what arrived (client bytes, peer
 * messages, finished disk jobs, timers) to the member; then member_flush hands the turn's
 * writes to the consensus core, starts the next group commit and pushes replies out, and the
 * connections the member closed are reaped. */
#ifndef ZK_SERVER_H
#define ZK_SERVER_H

#include <stdbool.h>

#include "server/config.h"

struct event_base;
struct event;
struct storage;
struct clientio;
struct peer_net;
struct member;
struct admin;

struct server {
    struct zk_config cfg;
    struct event_base *base;
    struct event *core_tick_ev;    /* the member's core tick (MEMBER_TICK_MS) */
    struct event *session_tick_ev; /* session expiry and reaping, every tickTime/2 */
    struct event *trim_ev;         /* give freed heap back, every 10 s */
    struct event *tls_reload_ev;   /* take rotated TLS stores */
    struct event *sig_ev[2];
    struct storage *storage;
    struct clientio *clients;
    struct peer_net *peers;
    struct member *member;
    struct admin *admin; /* the AdminServer and /metrics (admin.h); NULL when both are off */
    bool stopping;
};

int server_init(struct server *s, const struct zk_config *cfg);
int server_run(struct server *s);
void server_destroy(struct server *s);

#endif
