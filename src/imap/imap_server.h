/*
 * The IMAP engine served over TCP (the bridge's IMAP side): a listener on loopback, one
 * imap_session per connection, new mail pushed to idling clients as the mail store
 * reports it (from any thread). Logins are checked by the bridge's shared authenticator
 * (bridge/auth.h: password hash on the thread pool, failures rate-limited per address and
 * globally), which the caller owns and may share with the SMTP side.
 */
#ifndef SOTTO_IMAP_IMAP_SERVER_H
#define SOTTO_IMAP_IMAP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bridge/auth.h"
#include "imap/imap_session.h"
#include "sotto/mailstore.h"

struct imap_server_config {
	const char *host;               /* NULL: 127.0.0.1 */
	uint16_t port;                  /* 0: any free port */
	unsigned max_conns;             /* 0: the listener's default */
	struct imap_config imap;
	struct bridge_auth *auth;       /* required; must outlive the server */
};

struct imap_server;

/* The mail store must outlive the server; the server registers as its watcher. */
int imap_server_start(struct imap_server **out, uv_loop_t *loop, struct mailstore *ms,
    const struct imap_server_config *cfg, char *why, size_t whylen) SOTTO_MUST_CHECK;
uint16_t imap_server_port(const struct imap_server *srv);
/* Closes every connection and frees the server once libuv is done; then done(arg). */
void imap_server_stop(struct imap_server *srv, void (*done)(void *), void *arg);

#endif
