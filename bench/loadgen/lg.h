/*
 * The load generator: one libuv loop, many non-blocking client connections, one protocol
 * driver per system (Sotto, MQTT 3.1.1, XMPP), the same workload for each. A driver turns
 * "log in", "send these bytes to that client" and incoming bytes into the protocol; the
 * core (main.c) schedules sends, matches deliveries and measures.
 *
 * The fan-out scenario sends one message at a time from client 0 to all clients (a Sotto
 * group, an MQTT topic every client subscribes to) and waits until every one has it.
 *
 * Every message is a 256-byte printable payload (payload.c) carrying its send time and the
 * sender's index, so delivery latency and the closed loop's in-flight window are tracked
 * end to end, for every system alike, without any help from the server.
 */
#ifndef SOTTO_BENCH_LG_H
#define SOTTO_BENCH_LG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"

#define LG_PAYLOAD_LEN 256
#define LG_OUT_MAX (64u * 1024 * 1024)  /* bytes queued for one connection */
#define LG_IN_MAX (4u * 1024 * 1024)    /* unparsed bytes held for one connection */
#define LG_ADDR_MAX 400
#define LG_PORTS_MAX 8                  /* nodes of one server */

enum lg_state { LG_IDLE, LG_CONNECTING, LG_LOGIN, LG_READY, LG_CLOSING };

struct lg;
struct lg_client;

struct lg_driver {
	const char *name;
	size_t state_size;              /* per-client driver state, zeroed before start */
	/* Once per run, before any connection (keys, names). */
	int (*prepare)(struct lg *g);
	/* TCP is up: queue the first bytes of the login. */
	int (*start)(struct lg_client *c);
	/* Parses what arrived in c->in from the front; calls lg_ready/lg_delivered; returns
	 * bytes consumed, or a negative error (the connection is then counted failed). */
	long (*input)(struct lg_client *c, const uint8_t *p, size_t len);
	/* After each read: flush batched acknowledgements (may be NULL). */
	void (*after_read)(struct lg_client *c);
	/* Queues one message for client `to`. */
	int (*send)(struct lg_client *c, struct lg_client *to, const uint8_t *payload,
	    size_t len);
	/* Driver state teardown (may be NULL). */
	void (*reset)(struct lg_client *c);
	/* Fan-out scenario: owner makes every ready client a member of one group or topic
	 * (NULL: membership comes with the login; lg_joined is then not called), and publishes
	 * one message to all of them. */
	int (*fanout_setup)(struct lg_client *owner);
	int (*fanout_send)(struct lg_client *c, const uint8_t *payload, size_t len);
};

struct lg_client {
	struct lg *g;
	uint32_t idx;
	int state;
	uv_tcp_t tcp;
	uv_connect_t creq;
	int handle_open;
	struct buf out;                 /* queued, not yet handed to the kernel */
	int writing;
	int dirty;                      /* queued for the end-of-callback flush */
	struct buf in;                  /* received, not yet parsed */
	uint32_t inflight;              /* sent, not yet delivered (closed loop) */
	uint64_t sent, delivered, acked;
	uint32_t seq;
	int logged_in_once;             /* Sotto: registered */
	char addr[LG_ADDR_MAX];         /* the protocol's address of this client (JID, topic) */
	void *ds;                       /* driver state */
};

struct lg_stats {
	uint64_t delivered, sent, acked, errors, bad_payload;
	uint64_t ready_events;
	double *lat_us;                 /* recorded latencies */
	size_t n_lat, cap_lat;
	int recording;
};

struct lg {
	uv_loop_t *loop;
	const struct lg_driver *drv;
	const char *host;
	int port;                       /* the first of the ports */
	struct sockaddr_storage sa[LG_PORTS_MAX]; /* client i connects to sa[i % n_sa] */
	size_t n_sa;
	const char *server;             /* Sotto: sotto://KEY@host:port */
	const char *domain;
	const char *xmpp_auth;          /* "anonymous" or "plain" */
	char tag[16];                   /* run tag: unique names per run */
	struct lg_client *clients;
	uint32_t n;
	uint32_t n_ready;
	uint32_t n_connecting;          /* TCP or login in progress */
	uint32_t window;
	int closed_loop;
	struct lg_stats st;
	uint64_t t0_ns;
	int fatal;
	void *drv_global;
	int fanout;                     /* the fan-out scenario: one group or topic for all */
	uint32_t joined;                /* clients that are members of it (lg_joined) */
};

uint64_t lg_now_ns(void);

/* Driver -> core. */
void lg_ready(struct lg_client *c);
void lg_delivered(struct lg_client *c, const uint8_t *payload, size_t len);
void lg_acked(struct lg_client *c);
/* c is a member of the fan-out group now. */
void lg_joined(struct lg_client *c);
void lg_fail(struct lg_client *c, const char *why, int err);
/* Hands c->out to the kernel (called by the core after input; drivers rarely need it). */
void lg_flush(struct lg_client *c);

/* payload.c */
void lg_payload_make(uint8_t out[LG_PAYLOAD_LEN], uint64_t t_ns, uint32_t sender, uint32_t seq);
/* 0 with the fields, or -1 if the bytes are not a payload of this run. */
int lg_payload_parse(const uint8_t *p, size_t len, uint64_t *t_ns, uint32_t *sender,
    uint32_t *seq);

extern const struct lg_driver lg_driver_sotto, lg_driver_mqtt, lg_driver_xmpp;

#endif
