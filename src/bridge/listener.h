/*
 * A libuv TCP listener shared by the bridge engines (SMTP, IMAP). It accepts connections,
 * hands each one's bytes to the engine's handler, and offers the engine a write queue with
 * a cap on buffered output, close-after-flush, a connection count limit and an idle timeout.
 *
 * Flow control: the handler's `read` returns how many bytes it consumed. If it consumed
 * less (it is waiting for something asynchronous, e.g. a delivery), the listener keeps the
 * rest, stops reading from the socket and stops the idle timer, until the engine calls
 * listener_conn_resume(); the kept bytes are then offered again from the loop, never from
 * inside the resume call.
 *
 * Lifetime: `closed` is called exactly once per accepted connection, after which the conn
 * pointer is invalid. Everything runs on the loop's thread.
 */
#ifndef SOTTO_BRIDGE_LISTENER_H
#define SOTTO_BRIDGE_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sotto/error.h"

struct listener;
struct listener_conn;

struct listener_ops {
	/* A new connection; returns the engine's state for it, NULL to refuse (closed). */
	void *(*open)(void *arg, struct listener_conn *c);
	/* Bytes from the peer; returns how many were consumed (the rest is kept). */
	size_t (*read)(void *state, const uint8_t *p, size_t n);
	/* The peer closed, the connection timed out, or the engine closed it. */
	void (*closed)(void *state, int why);
};

struct listener_config {
	const char *host;       /* numeric IPv4/IPv6 address; NULL means 127.0.0.1 */
	uint16_t port;          /* 0: any free port (see listener_port) */
	const char *tls_key;    /* path of a TLS key; required for a non-loopback host */
	unsigned max_conns;     /* 0: 16 */
	uint64_t idle_ms;       /* 0: 5 minutes */
	size_t out_max;         /* cap on queued output per connection; 0: 1 MiB */
	const char *busy_reply; /* written to a connection refused for max_conns, or NULL */
};

/* The listening rule: 0 if host may be listened on, else an error with the reason in why.
 * Loopback is always allowed. Anything else needs a TLS key, and even then is refused
 * for now, because STARTTLS is not implemented yet. */
int listener_check_host(const char *host, const char *tls_key, char *why, size_t whylen)
    SOTTO_MUST_CHECK;

/* Splits "HOST:PORT" or "[V6]:PORT" (the --smtp/--imap argument) into a numeric host
 * (copied into host) and a port 1..65535. SOTTO_ERR_INVALID_ARG if malformed. */
int listener_parse_addr(const char *s, char *host, size_t hostcap, uint16_t *port)
    SOTTO_MUST_CHECK;

/* Binds and listens. On error, why (if not NULL) says what went wrong. */
int listener_start(struct listener **out, uv_loop_t *loop, const struct listener_config *cfg,
    const struct listener_ops *ops, void *arg, char *why, size_t whylen) SOTTO_MUST_CHECK;
uint16_t listener_port(const struct listener *l);
unsigned listener_conn_count(const struct listener *l);
/* Stops accepting, aborts every connection (each gets `closed`) and frees the listener
 * once libuv has released its handles; then calls done(done_arg) if given. */
void listener_stop(struct listener *l, void (*done)(void *), void *done_arg);

/* Queues bytes (copied). If the queue would exceed out_max the peer is not reading: the
 * connection is aborted and SOTTO_ERR_LIMIT returned. SOTTO_ERR_CLOSED once closing. */
int listener_conn_write(struct listener_conn *c, const void *p, size_t n);
/* Optional: drained(state) is called whenever a connection's queued output has all been
 * written, so an engine that stopped producing output because the queue was long can go
 * on (the IMAP engine pausing a large FETCH). */
void listener_set_drained(struct listener *l, void (*drained)(void *state));
/* Bytes queued for the peer and not yet written. */
size_t listener_conn_queued(const struct listener_conn *c);
/* Stops reading, closes once everything queued is written. */
void listener_conn_close(struct listener_conn *c);
/* Closes at once, dropping queued output. */
void listener_conn_abort(struct listener_conn *c);
/* Stops reading and the idle timer until listener_conn_resume(): for an engine that
 * waits on something asynchronous (a delivery may take longer than the idle timeout). */
void listener_conn_pause(struct listener_conn *c);
/* Resumes reading after listener_conn_pause() or a read that consumed less than it was
 * given. May be called from inside `read` (the resume then takes effect after it). */
void listener_conn_resume(struct listener_conn *c);
/* Changes this connection's idle timeout (e.g. short before login, 30 minutes after for
 * IMAP IDLE) and restarts the timer unless paused. */
void listener_conn_set_idle(struct listener_conn *c, uint64_t idle_ms);
/* The peer's address as text ("127.0.0.1"), for rate limiting and logs. */
const char *listener_conn_peer(const struct listener_conn *c);
int listener_conn_closing(const struct listener_conn *c);

#endif
