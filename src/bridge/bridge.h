/*
 * `sotto bridge`: the SMTP and IMAP engines on one libuv loop, wired to the Sotto client.
 *
 * A client thread owns the struct sotto (its calls block on the network): it sends what
 * the SMTP side hands over and receives from the server. Sending: each envelope
 * recipient gets its own copy (Bcc removed by the SMTP engine), handed whole to
 * sotto_send_mail, which sends it in parts. DATA is answered 250
 * only once the server acknowledged every part of every copy; then the submitted mail
 * (Bcc included) is filed in Sent. Receiving: libsotto files each mail in INBOX in the
 * transaction that stores it (sotto_poll on the client thread, or in another process);
 * the loop then sees the store's change counter move (mailstore_store_refresh, right
 * after a poll that received something and every BRIDGE_REFRESH_MS) and IMAP IDLE wakes.
 *
 * Recipients: an address outside the user's own domain is not a Sotto user and is refused
 * at RCPT (550 5.7.1) so nothing is ever sent in the clear; a malformed one gets 550 5.1.1.
 * One of our domain is looked up on the server by the client thread (sotto_lookup) while
 * the RCPT waits: no such account is 550 5.1.1, a server that cannot be asked 451 4.4.3.
 * Accounts that exist are remembered for a minute.
 *
 * Mail ids: a copy's id is a keyed hash of the recipient and the copy's bytes
 * (mail_content_id in libsotto), so a mail submitted twice (a retry after 4xx) is filed
 * once by the recipient.
 */
#ifndef SOTTO_BRIDGE_BRIDGE_H
#define SOTTO_BRIDGE_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bridge/auth.h"
#include "sotto/mailstore.h"
#include "sotto/error.h"
#include "sotto/sotto.h"

#define BRIDGE_IMAP_DEFAULT_LISTEN "127.0.0.1:1143"
/* Setting names in the client's store (sealed). */

struct bridge_config {
	struct sotto *sotto;            /* registered account; the bridge owns it from here */
	struct mailstore *ms;           /* a mailstore_store; must outlive the bridge */
	const char *pw_hash;            /* crypto_pwhash_str of the bridge password */
	const char *smtp_host;          /* NULL: 127.0.0.1 */
	uint16_t smtp_port;             /* 0: any free port */
	const char *imap_host;
	uint16_t imap_port;
	uint64_t max_size;              /* 0: SOTTO_MAIL_MAX */
	/* Embedded beside another connection of the account (`sotto daemon`): the server
	 * pushes to an account's newest connection, so the client thread connects only to
	 * send and disconnects afterwards; the mail the other one receives is in INBOX as it
	 * is stored. */
	int send_only;
	struct bridge_auth_config auth; /* user and pw_hash are filled in here */
};

struct bridge;

/* why receives the reason a start failed. On failure the caller still owns cfg->sotto. */
int bridge_start(struct bridge **out, uv_loop_t *loop, const struct bridge_config *cfg,
    char *why, size_t whylen) SOTTO_MUST_CHECK;
uint16_t bridge_smtp_port(const struct bridge *b);
uint16_t bridge_imap_port(const struct bridge *b);
/* Stops both servers (waiting for deliveries in flight), the client thread, and closes
 * the struct sotto; then done(arg) on the loop thread. */
void bridge_stop(struct bridge *b, void (*done)(void *), void *arg);

/*
 * The whole bridge on a thread and loop of its own, for `sotto bridge` and for embedding
 * (`sotto daemon`): takes the account (account, or opens home under the passphrase: the
 * one unlock of the process), opens its own handles from it with no second Argon2id
 * (sotto_open_again for the client thread, mailstore_store_open_account for the folders),
 * makes the bridge password if there is none (sotto_bridge_password), and starts both
 * servers. Returns once they listen. Errors: SOTTO_ERR_NOT_FOUND (no store),
 * SOTTO_ERR_PASSPHRASE, SOTTO_ERR_STATE (not registered), or why the servers did not start
 * (in why). The passphrase is not kept.
 */
struct bridge_run_config {
	struct sotto *account;          /* open already (kept by the caller), or NULL: */
	const char *home;
	const uint8_t *pass;            /* secret */
	size_t pass_len;
	const char *smtp;               /* HOST:PORT; NULL: SMTP_DEFAULT_LISTEN */
	const char *imap;               /* HOST:PORT; NULL: BRIDGE_IMAP_DEFAULT_LISTEN */
	int send_only;                  /* see struct bridge_config */
};

struct bridge_runner;

int bridge_runner_start(struct bridge_runner **out, const struct bridge_run_config *cfg,
    char *why, size_t whylen) SOTTO_MUST_CHECK;
uint16_t bridge_runner_smtp_port(const struct bridge_runner *r);
uint16_t bridge_runner_imap_port(const struct bridge_runner *r);
/* The user name the servers accept: the account's address. */
const char *bridge_runner_user(const struct bridge_runner *r);
/* 1 if the password was made by this start. */
int bridge_runner_new_password(const struct bridge_runner *r);
/* Stops (mail handed over is finished first), joins the thread, closes the store. */
void bridge_runner_stop(struct bridge_runner *r);

#endif
