/*
 * Shared by libsotto's client files (account, send, receive, contacts, expire): the
 * struct behind struct sotto and the helpers they share.
 */
#ifndef SOTTO_CLIENT_CLIENT_INT_H
#define SOTTO_CLIENT_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/file.h"
#include "sotto/sotto.h"
#include "client/conn.h"
#include "client/content.h"
#include "client/decrypt_error.h"
#include "client/store.h"
#include "client/transport.h"
#include "crypto/x3dh.h"
#include "wire/cert.h"

#define CLIENT_OTPK_BATCH 100                   /* one-time prekeys per upload */
#define CLIENT_PQ_CHECK_EVERY (24 * 3600)       /* seconds between looks for a PQ
                                                   replacement of a classical session */
#define CLIENT_SPK_ROTATE (7u * 86400)          /* signed prekey lifetime */
#define CLIENT_SPK_GRACE (14u * 86400)          /* a replaced one is kept this long */
#define CLIENT_CERT_MARGIN 60                   /* refresh a certificate this early */
#define CLIENT_TIMEOUT_MS 10000                 /* requests made inside other calls */
#define CLIENT_ACK_BATCH 256                    /* envelope ids per RECEIVED */
#define CLIENT_MAINTAIN_EVERY 3600              /* a long connection checks the prekeys */
#define CLIENT_DERR_INTERVAL 60                 /* decryption-failure receipts per contact */
/* The kept unidentified connection (sealed_conn.c): closed after this long without a
 * send, and replaced after this many sends or this long since it was opened, so that one
 * connection links a bounded number of sends. */
#define CLIENT_SEALED_IDLE_MS 60000
#define CLIENT_SEALED_SENDS_MAX 100
#define CLIENT_SEALED_AGE_MS 600000

/* Secret; sodium_malloc'd. */
struct client_keys {
	struct store_identity id;
	struct x3dh_identity xid;
};

struct sotto {
	struct store *st;
	struct client_keys *k;
	int have_id;                    /* k->id loaded from the store */
	uint8_t server_pk[32];          /* Ed25519, from the server address */
	const struct transport_ops *ops;
	void *targ;
	void *t;                        /* the open transport, or NULL */
	struct conn_ticket *ticket;     /* transport_conn's resumption ticket; sodium_malloc */
	struct conn_login login;        /* transport_conn's arg: the ticket, login generation */
	uint8_t cert[CERT_MAX];         /* our sender certificate */
	size_t cert_len;
	uint64_t cert_expiry;
	int prekeys_low;                /* the server asked for more one-time prekeys */
	int key_packages_low;           /* the server asked for more MLS KeyPackages */
	int auto_receipts;
	uint32_t spk_rotate, spk_grace; /* seconds; tests shorten them */
	uint64_t next_maintain;         /* unix seconds: next signed prekey check */
	int queued_reason;              /* the last send that stayed queued: why (sotto.h) */
	char home[SOTTO_FILE_PATH_MAX]; /* the home directory (file_*.c: transfers, files) */
	/* The kept unidentified connection (sealed_conn.c), or NULL; nothing of it is shared
	 * with t. Monotonic milliseconds. */
	void *sealed;
	uint64_t sealed_opened_ms, sealed_used_ms;
	uint32_t sealed_sends;
	uint32_t sealed_idle_ms, sealed_age_ms, sealed_sends_max;  /* tests shorten them */
};

uint64_t client_now(void);
uint64_t client_now_ms(void);

/* ticket_store.c: the resumption ticket in the encrypted store (loaded only when s holds
 * none; saved, or deleted when s->ticket is empty, after each connect). */
int client_ticket_load(struct sotto *s) SOTTO_MUST_CHECK;
int client_ticket_save(struct sotto *s);
/* The login generation (setting "login_generation"): read before each login, since another
 * process on this store may have logged in since; 0 if none is stored. */
int client_login_gen_load(struct sotto *s, uint64_t *gen) SOTTO_MUST_CHECK;
int client_login_gen_save(struct sotto *s, uint64_t gen);

/* Loads the identity and its X3DH form into s->k. */
int client_load_identity(struct sotto *s) SOTTO_MUST_CHECK;
/* Maps a transport failure: the connection is dropped on anything but a timeout. */
int client_conn_failed(struct sotto *s, int r);
/* A request over the open transport (SOTTO_ERR_CLOSED if none); on success returns
 * resp->status. */
int client_request(struct sotto *s, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms) SOTTO_MUST_CHECK;
/* A fresh sender certificate if ours expires soon. */
int client_ensure_cert(struct sotto *s, int timeout_ms) SOTTO_MUST_CHECK;
/* Stores and uploads prekeys (prekeys.c): a new signed prekey and a new last-resort
 * ML-KEM prekey if new_spk, n one-time X25519 prekeys and n_kem one-time ML-KEM ones. */
int client_upload_prekeys(struct sotto *s, int new_spk, uint32_t n, uint32_t n_kem,
    int timeout_ms) SOTTO_MUST_CHECK;

/* A fetched bundle's ML-KEM prekey, if it has one, must be signed by the bundle's identity
 * key: SOTTO_ERR_BAD_SIGNATURE otherwise (the bundle is refused as a whole, not used
 * without it, which would let a server downgrade the session to a classical one). */
int client_bundle_kem_check(const struct proto_bundle *pb) SOTTO_MUST_CHECK;

/* Rotates the signed prekey and the last-resort ML-KEM prekey if due (on connect, and
 * hourly while connected); see prekeys.c. */
int client_maintain_spk(struct sotto *s, int timeout_ms) SOTTO_MUST_CHECK;

/* sealed_conn.c: req (a SEND_SEALED) on the kept unidentified connection, opened or
 * replaced first as its limits say; a kept connection found dead is replaced and req sent
 * once more on the new one (the server stores a retried send once). Returns
 * resp->status, or SOTTO_ERR_UNREACHABLE / SOTTO_ERR_TIMEOUT when no answer came (the
 * connection is then closed). */
int client_sealed_request(struct sotto *s, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms) SOTTO_MUST_CHECK;
/* Closes the kept unidentified connection if it has been idle CLIENT_SEALED_IDLE_MS
 * (force: now). */
void client_sealed_close(struct sotto *s, int force);
/* A transport whose handle is the struct sotto itself and whose only operation, request,
 * is client_sealed_request: for the request builders that take a transport (group_net.h's
 * group_net_send_sealed). */
extern const struct transport_ops client_sealed_ops;

/* Encrypts, queues and sends one content to `to` (send.c). c->id, seq, sent_ms and expiry
 * are filled here. With keep, a TEXT or MAIL is also stored in the history. */
int client_send_content(struct sotto *s, const char *to, struct content *c, int keep,
    int timeout_ms) SOTTO_MUST_CHECK;
/* The same under a message id chosen before (id not NULL): if an earlier call queued or
 * sent that id, nothing is queued again and the result is as for that message (0 sent,
 * SOTTO_ERR_QUEUED still in the outbox). */
int client_send_content_as(struct sotto *s, const char *to, struct content *c, int keep,
    int timeout_ms, const uint8_t id[STORE_MSGID_LEN]) SOTTO_MUST_CHECK;
/* Sends every outbox item, oldest first; stops at the first connection failure or
 * transient refusal (the rest stays queued); an item the server refuses for good is
 * dropped. Returns the first error. If watch is not NULL, *watch_r gets the result for
 * that id (1 if it was not reached). */
int client_flush_outbox(struct sotto *s, int timeout_ms, const uint8_t *watch, int *watch_r)
    SOTTO_MUST_CHECK;

/* mail_in.c: a received mail, filed once. */
struct client_mail_in {
	uint8_t *body;                  /* the whole mail as filed (secret), NUL after it */
	size_t len;
	uint8_t id[STORE_MSGID_LEN];    /* its history id */
	int claimed_other;              /* its From: claimed another sender (rewritten) */
};

/* A MAIL content from tmpl->peer (tmpl: the history entry it would be, body the content;
 * g: the group it came in, NULL for 1:1), in the caller's transaction: 1 when it
 * completed a mail, now filed in the history and INBOX (*out filled: client_mail_in_free),
 * 0 when there is nothing to show (a part waiting for others, a duplicate, a mail that
 * cannot be filed), or an error of ours. */
struct mail_group;
int client_mail_receive(struct store *st, const struct store_message *tmpl,
    const struct mail_group *g, struct client_mail_in *out) SOTTO_MUST_CHECK;
/* Files the whole mail (len bytes) as the history entry tmpl describes and in INBOX.
 * SOTTO_ERR_EXISTS: its id was seen; SOTTO_ERR_MALFORMED: it cannot be filed. out may be
 * NULL. */
int client_mail_file(struct store *st, const struct store_message *tmpl,
    const struct mail_group *g, const uint8_t *mail, size_t len,
    struct client_mail_in *out) SOTTO_MUST_CHECK;
/* The parts of (peer, id: MAIL_CONTENT_ID_LEN bytes) in mail_parts put together, and
 * deleted: 1 with *mail (malloc'd, secret), 0 while some are missing. A set of parts that
 * do not make one mail is deleted (0). */
int client_mail_parts_assemble(struct store *st, const char *peer, const uint8_t *id,
    uint8_t **mail, size_t *len) SOTTO_MUST_CHECK;
/* A member's text m (stored in the history) as a mail in INBOX, a row of its own. */
int client_mail_group_text(struct store *st, const struct store_message *m,
    const struct mail_group *g) SOTTO_MUST_CHECK;
/* A group's change (note, a STORE_MSG_GROUP_EVENT entry in the history) in words, from
 * the member who made it (none known: the group), as a mail in INBOX, a row of its own. */
int client_mail_group_note(struct store *st, const struct store_message *note,
    const struct mail_group *g) SOTTO_MUST_CHECK;
void client_mail_in_free(struct client_mail_in *in);

/* decrypt_error.c: decryption-failure receipts. */
struct sealed_opened;
struct client_derr {
	char peer[STORE_ADDR_MAX + 1];
	uint8_t ident[32];              /* the peer's identity, as its certificate vouches */
	struct decrypt_error e;
};
/* The receipt for a message from o that failed with err at the server time server_ms. */
void client_derr_describe(struct client_derr *d, int err, const struct sealed_opened *o,
    uint64_t server_ms);
/* Sends it, unless this contact got one less than CLIENT_DERR_INTERVAL ago. Best effort:
 * callers may ignore the result. */
int client_derr_send(struct sotto *s, const struct client_derr *d, int timeout_ms);
/* A receipt from o (message type 3): parses it into d and, for a contact whose identity
 * matches, archives the current session (*archived = 1) unless it was started after the
 * failed message. SOTTO_ERR_MALFORMED for a receipt that does not parse,
 * SOTTO_ERR_NO_SESSION if the sender is no such contact, or an error of the store. */
int client_derr_receive(struct sotto *s, const struct sealed_opened *o, struct client_derr *d,
    int *archived) SOTTO_MUST_CHECK;
/* What to tell the user about a receipt. */
void client_derr_text(char *out, size_t cap, const struct client_derr *d, int archived);

/* session_archive.c: a contact's previous sessions, most recently used first. Every call
 * runs inside the caller's store transaction. */
#define CLIENT_ARCHIVE_MAX 40
struct client_archive {
	char address[STORE_ADDR_MAX + 1];
	uint8_t n;
	uint8_t slot[CLIENT_ARCHIVE_MAX];
};
int client_archive_load(struct sotto *s, const char *address, struct client_archive *a)
    SOTTO_MUST_CHECK;
/* Entry i's state; *state is malloc'd (store_blob_free). */
int client_archive_get(struct sotto *s, const struct client_archive *a, size_t i,
    uint8_t **state, size_t *len) SOTTO_MUST_CHECK;
/* Stores state at the front: in entry i's place (i >= 0), or as a new entry (i < 0; the
 * least recently used is dropped when CLIENT_ARCHIVE_MAX are kept). */
int client_archive_put(struct sotto *s, struct client_archive *a, long i, const uint8_t *state,
    size_t len) SOTTO_MUST_CHECK;
int client_archive_remove(struct sotto *s, struct client_archive *a, size_t i)
    SOTTO_MUST_CHECK;
/* Archives the current session with address (if any), so that the next send starts a
 * new one from a fresh prekey bundle. */
int client_archive_current(struct sotto *s, const char *address) SOTTO_MUST_CHECK;

/* Whether a store_contact exists; fills *c when it does (1), 0 if not, or an error. */
int client_contact_find(struct sotto *s, const char *address, struct store_contact *c)
    SOTTO_MUST_CHECK;

/* 1 if there is a session with `to`, 0 if not, or an error. */
int client_session_exists(struct sotto *s, const char *to) SOTTO_MUST_CHECK;
/* Makes our delivery token if there is none and registers it with the server if it is
 * not yet (a server without DELIVERY_TOKEN: nothing to do). */
int client_token_maintain(struct sotto *s, int timeout_ms) SOTTO_MUST_CHECK;
/* Our delivery token (delivery_token.c): stored as generation gen (from 1);
 * SOTTO_ERR_NOT_FOUND from get when there is none. */
int client_token_put(struct sotto *s, uint32_t gen,
    const uint8_t token[CONTENT_TOKEN_LEN]) SOTTO_MUST_CHECK;
int client_token_get(struct sotto *s, uint32_t *gen,
    uint8_t token[CONTENT_TOKEN_LEN]) SOTTO_MUST_CHECK;
/* Inside the sending transaction: gives c our token if ct was not given this generation
 * (and is not blocked), and notes it in ct. */
int client_token_attach(struct sotto *s, struct content *c,
    struct store_contact *ct) SOTTO_MUST_CHECK;

#endif
