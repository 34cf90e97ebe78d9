/*
 * The client side of the wire: a blocking TCP connection to a sottod, authenticated with
 * Noise_XX (wire/noise.h) as the device, the server pinned by its address.
 *
 *   struct conn *c;
 *   conn_open(&c, "sotto://KEY@host:7770", device_sk, 5000);
 *   conn_request(c, &req, &resp, 5000);     // assigns req.id, waits for its response
 *   conn_next_event(c, &ev, 1000);          // PUSH / PREKEY_LOW notices
 *   conn_close(c);
 *
 * Messages returned in a struct proto_msg borrow bytes (envelopes) owned by the conn, valid
 * until the next call on it. Notices that arrive while waiting for a response are queued
 * (bounded: CONN_QUEUE_MAX) and returned by conn_next_event in order.
 */
#ifndef SOTTO_CLIENT_CONN_H
#define SOTTO_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "wire/proto.h"
#include "wire/ticket.h"

#define CONN_QUEUE_MAX 1024

struct conn;

/*
 * A resumption ticket kept between connections (in memory: one per device and server;
 * keep it in sodium_malloc memory, psk is secret). Zeroed means none.
 */
struct conn_ticket {
	int valid;
	uint8_t server_pk[32];          /* the server it was issued by */
	uint8_t device_tag[32];         /* BLAKE2b of the device secret key it belongs to */
	uint8_t ticket[TICKET_LEN];
	uint8_t psk[TICKET_PSK_LEN];    /* secret */
	uint64_t expiry;                /* unix seconds */
};

/*
 * Connects and runs the handshake as initiator with the device's X25519 secret key.
 * Errors: SOTTO_ERR_MALFORMED (address), SOTTO_ERR_UNREACHABLE (the name does not resolve,
 * the connection is refused or not answered in time), SOTTO_ERR_NOT_SOTTO (the port
 * answers in another protocol), SOTTO_ERR_TIMEOUT (connected, but no handshake answer),
 * SOTTO_ERR_AUTH when the server's static key is not the one in the address (the pinned
 * key: wrong server or an interceptor), SOTTO_ERR_CLOSED, SOTTO_ERR_DECRYPT/PROTOCOL.
 */
int conn_open(struct conn **out, const char *server_address,
    const uint8_t device_sk[32], int timeout_ms) SOTTO_MUST_CHECK;
/*
 * conn_open with resumption: if tk holds a live ticket for this server and device, logs in
 * with Noise_NNpsk0 (no static-key DH); if the server refuses it, falls back to a full
 * Noise_XX login on a new connection. Then asks for a fresh ticket into tk (a server
 * without resumption, or an unregistered device, leaves tk empty). tk may be NULL.
 */
int conn_open_resume(struct conn **out, const char *server_address,
    const uint8_t device_sk[32], struct conn_ticket *tk, int timeout_ms) SOTTO_MUST_CHECK;
/*
 * What a device keeps between logins (docs/PROTOCOL-wire.md, LOGIN): its resumption ticket
 * and its login generation, which tells the server that this is the device's store and
 * not a copy of it.
 */
struct conn_login {
	struct conn_ticket *tk;         /* may be NULL: no resumption */
	uint64_t generation;            /* in: the one stored (0: none); out: the next */
	int fresh;                      /* out: 1 if the server gave a new generation, which
	                                   must be stored and presented next time */
	int guest;                      /* out: 1 if the server knows no account of this
	                                   device (LOGIN answered SOTTO_ERR_AUTH) */
};
/*
 * conn_open_resume, then LOGIN instead of TICKET: presents l->generation and takes the
 * next one and a ticket. SOTTO_ERR_DEVICE_CLONED: the server saw another copy of this
 * device's store log in since (the connection is closed). A device not registered yet
 * gets neither (l->fresh 0, no ticket); a server without LOGIN, only the ticket.
 */
int conn_open_login(struct conn **out, const char *server_address,
    const uint8_t device_sk[32], struct conn_login *l, int timeout_ms) SOTTO_MUST_CHECK;
/*
 * An unidentified connection (Noise_NK, issue 15): no device key, no ticket, nothing
 * shared with the device's identified connection; the server, pinned by the address, only
 * takes SEND_SEALED on it. Errors as conn_open (SOTTO_ERR_AUTH: not the pinned server).
 */
int conn_open_sealed(struct conn **out, const char *server_address, int timeout_ms)
    SOTTO_MUST_CHECK;
/* Whether this connection logged in with a ticket. */
int conn_resumed(const struct conn *c);
/* Asks the server for a fresh ticket into tk (SOTTO_ERR_UNSUPPORTED: resumption off). */
int conn_fetch_ticket(struct conn *c, const uint8_t device_sk[32],
    struct conn_ticket *tk, int timeout_ms) SOTTO_MUST_CHECK;
void conn_ticket_wipe(struct conn_ticket *tk);
/* Sends req with a fresh id (written back into req->id) and waits for the response
 * with that id. resp->status carries the server's error for this request, if any. */
int conn_request(struct conn *c, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms) SOTTO_MUST_CHECK;
/* Sends any message as is (tests; pipelining). */
int conn_send(struct conn *c, const struct proto_msg *m) SOTTO_MUST_CHECK;
/* The next message that is not the answer to a pending conn_request: queued notices first,
 * then from the socket. SOTTO_ERR_TIMEOUT when nothing arrives in time (timeout_ms 0 polls). */
int conn_next_event(struct conn *c, struct proto_msg *ev, int timeout_ms) SOTTO_MUST_CHECK;
/* The socket, to poll on in an event loop of the caller. */
int conn_fd(const struct conn *c);
/* The handshake hash (64 bytes), for channel binding. */
const uint8_t *conn_handshake_hash(const struct conn *c);
void conn_close(struct conn *c);

#endif
