/* ZooKeeper 3.5+'s AdminServer and ZooKeeper 3.6+'s Prometheus endpoint, on libevent's evhttp
 * (docs/operations.md, Monitoring):
 *
 *   admin.enableServer (true), admin.serverAddress:admin.serverPort (0.0.0.0:8080),
 *   admin.commandURL (/commands): GET <url> lists the commands, GET <url>/<name> answers one in
 *   JSON with ZooKeeper 3.8's field names (ruok, monitor, stats, server_stats, configuration,
 *   leader, voting_view, watch_summary, connections, dump, environment, is_read_only, dirs);
 *
 *   metricsProvider.className=...PrometheusMetricsProvider: GET /metrics on
 *   metricsProvider.httpHost:httpPort (0.0.0.0:7000) in the text exposition format 0.0.4.
 *
 * The numbers come from the member's introspection (member.h); the member does no I/O. Only GET
 * and HEAD are served; request headers, bodies and open connections are bounded (past the
 * connection bound new connections wait in the listen backlog), idle connections are closed
 * after admin.idleTimeout. A port that cannot be bound is an error at start. */
#ifndef ZK_ADMIN_H
#define ZK_ADMIN_H

#include "server/config.h"

struct event_base;
struct member;
struct admin;

#define ADMIN_CONNS_MAX 64     /* open HTTP connections per endpoint: past it the oldest closes */
#define ADMIN_CONNS_HARD_MAX 256 /* ...and past this (within one loop turn) accepting waits */
#define ADMIN_HEADERS_MAX 8192 /* request line and headers, as Jetty's default */
#define ADMIN_BODY_MAX 4096    /* a body (GET and HEAD need none) */
#define ADMIN_INPUT_MAX 65536  /* bytes read ahead on a connection: a client that pipelines
                                * requests without reading the answers is not read further */

/* Start the endpoints cfg enables (none: *out = NULL, 0). 0, or -1 (logged): the member must not
 * start. The member must outlive the endpoints. */
int admin_start(struct admin **out, struct event_base *base, const struct zk_config *cfg,
                struct member *m);
void admin_free(struct admin *a);

#endif
