/*
 * The bridge's SMTP submission engine (RFC 5321, RFC 6409): what a mail client needs to
 * hand a message to the Sotto client for end-to-end encrypted delivery. It sits on the
 * shared listener and asks the client core through struct smtp_backend; it holds no keys.
 *
 * Extensions: SIZE, 8BITMIME, PIPELINING, ENHANCEDSTATUSCODES, AUTH PLAIN LOGIN, HELP.
 * Authentication is required before MAIL; MAIL FROM must be the user's own address.
 *
 * Delivery contract: after the final "." the engine removes Bcc header fields
 * (smtp_bcc.h) and calls deliver() once per envelope recipient. It answers 250 only when
 * every deliver() has reported success, which the client core gives once that copy is
 * acknowledged by the server or written to its durable outbox. Any failure is answered
 * 451 (all temporary) or 554 (any permanent) naming the failed recipients, so nothing is
 * lost silently. A client that disconnects before the final "." delivers nothing.
 */
#ifndef SOTTO_SMTP_SMTP_H
#define SOTTO_SMTP_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bridge/auth.h"
#include "bridge/listener.h"
#include "sotto/error.h"
#include "sotto/limits.h"

#define SMTP_DEFAULT_LISTEN "127.0.0.1:1025"     /* `sotto bridge --smtp` default */
#define SMTP_DEFAULT_MAX_SIZE SOTTO_MAIL_MAX
#define SMTP_DEFAULT_MAX_RCPTS 100      /* RFC 5321 section 4.5.3.1.8 minimum */
#define SMTP_DEFAULT_MAX_ERRORS 10
#define SMTP_REASON_MAX 200

enum smtp_rcpt_verdict {
	SMTP_RCPT_OK = 0,       /* a Sotto user we can encrypt to: 250 */
	SMTP_RCPT_NOT_SOTTO,    /* outside Sotto: 550 5.7.1, never sent in the clear */
	SMTP_RCPT_UNKNOWN,      /* a Sotto domain without such a user: 550 5.1.1 */
	SMTP_RCPT_TEMPFAIL,     /* could not be checked now: 451 4.4.3 */
};

enum smtp_deliver_result {
	SMTP_DELIVER_OK = 0,
	SMTP_DELIVER_TEMPFAIL,
	SMTP_DELIVER_PERMFAIL,
};

struct smtp_mail {
	const char *from;
	const char *const *rcpts;
	size_t nrcpts;
	const uint8_t *original;        /* as submitted, Bcc included: for the Sent folder */
	size_t original_len;
	const uint8_t *copy;            /* what every recipient gets: Bcc removed */
	size_t copy_len;
};

/* reason: a short human text for the client (may be NULL); copied. */
typedef void (*smtp_rcpt_done)(void *ctx, enum smtp_rcpt_verdict v, const char *reason);
typedef void (*smtp_deliver_done)(void *ctx, enum smtp_deliver_result r, const char *reason);

/* Both calls may answer at once or later, but always on the loop thread, exactly once.
 * The mail and its strings are valid until done() is called. */
struct smtp_backend {
	void *arg;
	void (*check_rcpt)(void *arg, const char *addr, smtp_rcpt_done done, void *ctx);
	void (*deliver)(void *arg, const struct smtp_mail *mail, size_t rcpt,
	    smtp_deliver_done done, void *ctx);
};

struct smtp_config {
	const char *hostname;           /* in the greeting; NULL: "localhost" */
	const char *user;               /* the user's address: the only allowed sender */
	uint64_t max_size;              /* 0: SMTP_DEFAULT_MAX_SIZE */
	unsigned max_rcpts;             /* 0: SMTP_DEFAULT_MAX_RCPTS */
	unsigned max_errors;            /* 0: SMTP_DEFAULT_MAX_ERRORS */
	struct listener_config listen;  /* host/port; defaults 127.0.0.1, loopback rule */
};

struct smtp_server;

/* auth must outlive the server. why receives the reason a start failed. */
int smtp_server_start(struct smtp_server **out, uv_loop_t *loop, const struct smtp_config *cfg,
    const struct smtp_backend *be, struct bridge_auth *auth, char *why, size_t whylen)
    SOTTO_MUST_CHECK;
uint16_t smtp_server_port(const struct smtp_server *s);
/* Closes every connection; frees the server once deliveries in flight have reported. */
void smtp_server_stop(struct smtp_server *s, void (*done)(void *), void *arg);

#endif
