/*
 * How the client talks to its server: a table of functions over a connection, so that the
 * client logic runs over the real Noise connection (client/conn.h) in the product and over
 * an in-process fake server in unit tests. Messages returned borrow bytes valid until the
 * next call on the same transport, as with conn.
 */
#ifndef SOTTO_CLIENT_TRANSPORT_H
#define SOTTO_CLIENT_TRANSPORT_H

#include <stdint.h>

#include "sotto/error.h"
#include "wire/proto.h"

struct transport_ops {
	int (*open)(void **t, void *arg, const char *server, const uint8_t device_sk[32],
	    int timeout_ms);
	int (*request)(void *t, struct proto_msg *req, struct proto_msg *resp, int timeout_ms);
	int (*next_event)(void *t, struct proto_msg *ev, int timeout_ms);
	int (*fd)(void *t);
	void (*close)(void *t);
	/* An unidentified connection (no device key, no ticket) for SEND_SEALED only, closed
	 * with close. NULL: the transport has none, and every send is identified. */
	int (*open_sealed)(void **t, const char *server, int timeout_ms);
};

/* The real one, over conn_open and friends. */
extern const struct transport_ops transport_conn;

struct sotto;
/* Replaces the transport of s (tests); arg is handed to ops->open. Disconnects first. */
void client_set_transport(struct sotto *s, const struct transport_ops *ops, void *arg);

#endif
