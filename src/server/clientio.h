/* The client port at the socket level (libevent): accepting, reading bytes into the member,
 * writing what the member queues, closing. Every protocol decision is the member's
 * (src/member/conns.c); this file implements the connection half of its network seam
 * (member_env's conn_* functions) and never calls back into the member from inside one. */
#ifndef ZK_CLIENTIO_H
#define ZK_CLIENTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

struct event_base;
struct member;
struct clientio;

struct clientio *clientio_new(struct event_base *base, const struct zk_config *cfg);
/* The member to deliver events to (set once it exists). */
void clientio_attach(struct clientio *io, struct member *m);
/* Bind clientPort and secureClientPort, whichever are set (retrying a port briefly taken,
 * design.md #10), and load the secure port's TLS stores. 0 or -1 (logged). */
int clientio_listen(struct clientio *io);
/* Take rotated TLS stores for new connections (tlsctx.h). */
void clientio_reload_tls(struct clientio *io);
/* Close every connection and the listener. */
void clientio_free(struct clientio *io);
/* End of a loop turn: finish closes the member asked for, tell it about them. */
void clientio_reap(struct clientio *io);

/* What member_env's connection functions do (server.c forwards to these). */
int clientio_send(struct clientio *io, uint64_t conn, const uint8_t *data, size_t len);
size_t clientio_queued(struct clientio *io, uint64_t conn);
void clientio_reading(struct clientio *io, uint64_t conn, bool on);
void clientio_close(struct clientio *io, uint64_t conn, bool after_flush);
void clientio_push(struct clientio *io);
/* member_env.sasl_step: the connection's SASL exchange (security/sasl.h). */
int clientio_sasl_step(struct clientio *io, uint64_t conn, const uint8_t *in, size_t in_len,
                       const uint8_t **out, size_t *out_len, char *id, size_t id_size);

#endif
