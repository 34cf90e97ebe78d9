/*
 * The running server's status for its administrator: `sottod status` and `sottod address`
 * connect to DIR/sottod.sock (a Unix socket, mode 0600, in the data directory), and read
 * one JSON object; Prometheus scrapes the same figures in its text format from
 * metrics_listen (loopback only, off by default). Neither reads anything from its client
 * beyond an HTTP request line: the answer is the same for everyone who may connect.
 *
 * A socket rather than a status file the server rewrites: the figures are taken when they
 * are asked for, nothing is written to disk every few seconds, and a connection that is
 * answered proves the server alive (a file outlives a crash). The counts that read the
 * whole database (accounts, envelopes waiting) run on a libuv worker thread with a store
 * handle of their own, so the loop never waits for them.
 */
#ifndef SOTTO_SERVER_STATUS_H
#define SOTTO_SERVER_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define STATUS_SOCKET_NAME "sottod.sock"
#define STATUS_ANSWER_MAX (16 * 1024)   /* the largest answer on either channel */
#define STATUS_CLIENTS_MAX 16           /* connections at once; more are closed */
#define STATUS_TIMEOUT_MS 5000          /* a client that has not been answered by then */
#define METRICS_REQUEST_MAX 4096        /* an HTTP request longer than this is refused */
/* `sottod status` says degraded when this share of db_max_pages is in use. */
#define STATUS_DB_FULL_PERCENT 90

struct server;

/*
 * Before the store is opened: SOTTO_ERR_EXISTS if another sottod answers on the data
 * directory's socket (two servers on one database would both write it); otherwise binds
 * the socket (a stale one, left by a crash, is replaced) and metrics_listen if set.
 * A data directory whose socket path does not fit a sockaddr_un only logs a warning.
 */
int status_start(struct server *s) SOTTO_MUST_CHECK;
/* Closes both listeners and every client, removes the socket. */
void status_stop(struct server *s);
/* "HOST:PORT" the metrics are served on, or NULL when off. */
const char *status_metrics_address(const struct server *s);

#endif
