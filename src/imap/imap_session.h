/*
 * The IMAP4rev1 engine (RFC 3501, with LITERAL+, SASL-IR, IDLE, UIDPLUS, UNSELECT, MOVE
 * and SPECIAL-USE), one per connection, independent of any transport: the host feeds it the
 * peer's bytes and gives it functions to write, close and check a login. It reads and
 * writes mail only through a struct mailstore.
 *
 * Caps: a line is refused past line_max, a literal past literal_max (8 KiB before login),
 * a whole command past command_max (64 KiB before login); each is refused before anything is allocated for it.
 * A command is run only when it has fully arrived, so a peer that disconnects in the middle
 * of an APPEND leaves nothing stored.
 */
#ifndef SOTTO_IMAP_IMAP_SESSION_H
#define SOTTO_IMAP_IMAP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/mailstore.h"
#include "sotto/error.h"

#define IMAP_LITERAL_MAX_PREAUTH 8192
#define IMAP_COMMAND_MAX_PREAUTH 65536

struct imap_config {
	size_t line_max;                /* 0: 64 KiB */
	uint64_t literal_max;           /* 0: 26 MiB (a 25 MiB mail and its headers) */
	size_t command_max;             /* 0: literal_max + 1 MiB */
	unsigned auth_failures_max;     /* per connection, then BYE; 0: 3 */
	size_t out_high;                /* unsent output above which reading and FETCH pause;
	                                 * 0: 4 MiB */
};

/* imap_host.login's answer when the check goes on in the background. */
#define IMAP_LOGIN_PENDING 1

struct imap_host {
	void *arg;
	/* Queues bytes for the peer; nonzero if the connection is gone. */
	int (*write)(void *arg, const uint8_t *p, size_t n);
	/* Closes once queued output is written. */
	void (*close)(void *arg);
	/* Checks a login. Returns 0 (accepted), SOTTO_ERR_AUTH (wrong), SOTTO_ERR_LIMIT (refused
	 * for now) or another error (temporary failure); or IMAP_LOGIN_PENDING, and later, never
	 * from inside this call, imap_session_login_done() with one of those results. pass is
	 * secret: the host copies what it keeps, and the engine wipes its copies on return. */
	int (*login)(void *arg, const uint8_t *user, size_t ulen, const uint8_t *pass,
	    size_t plen);
	/* Optional: bytes written and not yet sent. Above out_high the engine stops taking
	 * input and pauses a FETCH until imap_session_drained(). */
	size_t (*backlog)(void *arg);
};

struct imap_session;

int imap_session_new(struct imap_session **out, const struct imap_config *cfg,
    struct mailstore *ms, const struct imap_host *host) SOTTO_MUST_CHECK;
/* Writes the greeting. */
void imap_session_start(struct imap_session *s);
/* Reads the peer's bytes and answers the commands they complete. Returns how many bytes
 * were consumed: fewer than n while a login check is pending, in which case the host
 * offers the rest again after imap_session_login_done(). */
size_t imap_session_feed(struct imap_session *s, const uint8_t *p, size_t n);
/* The result of a login that imap_host.login left pending. */
void imap_session_login_done(struct imap_session *s, int result);
/* 1 while a login check is pending. */
int imap_session_waiting(const struct imap_session *s);
/* The output queue has emptied: a paused FETCH goes on. Returns 1 if the session had
 * stopped taking input for its output and takes it again now (the host resumes reading). */
int imap_session_drained(struct imap_session *s);
/* The mail store changed: an idling session reports it at once, others at their next
 * command. */
void imap_session_changed(struct imap_session *s);
/* 1 after LOGOUT or a fatal error: the host should close the connection. */
int imap_session_done(const struct imap_session *s);
void imap_session_free(struct imap_session *s);

#endif
