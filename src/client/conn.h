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

#define CONN_QUEUE_MAX 1024

struct conn;

/*
 * Connects and runs the handshake as initiator with the device's X25519 secret key.
 * Errors: SOTTO_ERR_MALFORMED (address), SOTTO_ERR_IO (resolve/connect), SOTTO_ERR_TIMEOUT,
 * SOTTO_ERR_AUTH when the server's static key is not the one in the address (the pinned
 * key: wrong server or an interceptor), SOTTO_ERR_CLOSED, SOTTO_ERR_DECRYPT/PROTOCOL.
 */
int conn_open(struct conn **out, const char *server_address,
    const uint8_t device_sk[32], int timeout_ms) SOTTO_MUST_CHECK;
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
