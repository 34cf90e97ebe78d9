/*
 * libsotto: the Sotto client library.
 *
 * One struct sotto is one account: an encrypted local store in a home directory, and at
 * most one connection to the account's server. Every function returns 0 (or a count where
 * said) or a negative enum sotto_err (sotto/error.h; sotto_strerror names it). A struct
 * sotto is not thread safe: use one per thread, or lock around it.
 *
 *   struct sotto *s;
 *   sotto_open(&s, "/home/me/.sotto", pass, pass_len);
 *   sotto_connect(s, 5000);
 *   sotto_send_text(s, "bob@example.org", "hi", 2, id);   // returns once the server acked
 *   sotto_poll(s, 1000, on_event, ctx);                     // received messages, receipts
 *   sotto_receive(s, 1000, &events, &n);                    // the same, as a list
 *   sotto_close(s);
 *
 * Delivery: a send is complete when it returns 0 (the server acknowledged it). When the
 * server cannot take it now, it returns SOTTO_ERR_QUEUED: the message is in the store's
 * outbox (a first message too, before there is a session) and is sent, with the same
 * message id, by the next sotto_connect or sotto_flush; the server stores an id once and
 * the receiver drops duplicates by id. A received message is stored before it is acknowledged to the
 * server, so a crash loses nothing and shows nothing twice. docs/CLIENT.md has the key
 * change policy, the sequence-gap reports and the expiry timers.
 */
#ifndef SOTTO_SOTTO_H
#define SOTTO_SOTTO_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "sotto/limits.h"

struct sotto;

/* Argon2id cost for a new store. SOTTO_KDF_MIN is libsodium's minimum: tests only. */
enum sotto_kdf { SOTTO_KDF_INTERACTIVE = 0, SOTTO_KDF_MODERATE = 1, SOTTO_KDF_MIN = 2 };

/* ---- the account ---- */

/* Creates a new store in home (made 0700) under the passphrase. SOTTO_ERR_EXISTS if one is
 * already there. The account has no keys yet: call sotto_init next. */
int sotto_create(struct sotto **out, const char *home, const uint8_t *pass, size_t pass_len,
    enum sotto_kdf kdf) SOTTO_MUST_CHECK;
/* Opens an existing store. SOTTO_ERR_NOT_FOUND: none in home; SOTTO_ERR_PASSPHRASE: wrong
 * passphrase; SOTTO_ERR_CORRUPT: the store failed its integrity check. Expired messages
 * are deleted on open. */
int sotto_open(struct sotto **out, const char *home, const uint8_t *pass, size_t pass_len)
    SOTTO_MUST_CHECK;
/* A second handle of the open account s, for another thread: its own connection to the
 * store and to the server, under the keys s unlocked (no passphrase, no second Argon2id:
 * a process unlocks its store once). Close it with sotto_close; s stays open. */
int sotto_open_again(struct sotto *s, struct sotto **out) SOTTO_MUST_CHECK;
/* The address a user typed in its one spelling (ASCII letters folded to lower case),
 * checked: 0, or SOTTO_ERR_BAD_ADDRESS. */
int sotto_address_normalize(const char *in, char out[SOTTO_ADDRESS_MAX + 1])
    SOTTO_MUST_CHECK;
/* How many times this process derived a key from a passphrase (Argon2id: each
 * sotto_open, sotto_create, passphrase change): the evidence that a process unlocks its
 * store once (`sotto daemon` reports it in `status`). */
unsigned long sotto_unlock_count(void);
/* Disconnects, wipes keys from memory, closes the store. NULL is allowed. */
void sotto_close(struct sotto *s);
/* The home directory to use when a front end is given none: ~/.sotto. */
int sotto_default_home(char *out, size_t cap) SOTTO_MUST_CHECK;
/* 0 if home holds no store, 1 if it holds one (or something in the way of one, which
 * sotto_open then names): a front end need not ask for a passphrase that opens nothing. */
int sotto_store_exists(const char *home);

/*
 * Registers the account: creates the identity and device keys (once; a retry after a
 * failure reuses them), connects to server ("sotto://KEY@host:port"), sends REGISTER
 * (with the invite token if not NULL) and uploads a signed prekey and one-time prekeys.
 * address is "name@domain" (case-insensitive: stored in lower case). The connection stays
 * open. SOTTO_ERR_BAD_ADDRESS: not an address; SOTTO_ERR_MALFORMED: a bad server address;
 * SOTTO_ERR_STATE: already registered; from the server: SOTTO_ERR_EXISTS (the name is
 * taken), SOTTO_ERR_OTHER_DOMAIN (it serves another domain), SOTTO_ERR_AUTH (it registers
 * by invite only and none was given), SOTTO_ERR_INVITE_UNKNOWN, SOTTO_ERR_INVITE_USED.
 */
int sotto_init(struct sotto *s, const char *address, const char *server, const char *invite,
    int timeout_ms) SOTTO_MUST_CHECK;
/* 1 once sotto_init registered the account, else 0. */
int sotto_registered(const struct sotto *s);

/*
 * The password mail programs give `sotto bridge`: SOTTO_BRIDGE_PASSWORD_CHARS characters of
 * base32 (secret: wipe pw after use) and its Argon2id hash, which the bridge checks logins
 * against. Made the first time (*created = 1) and kept in the store, the hash with the
 * account and the password sealed, in one transaction; the same pair every time after.
 * SOTTO_ERR_STATE before the account has keys (sotto_init).
 */
int sotto_bridge_password(struct sotto *s, char pw[SOTTO_BRIDGE_PASSWORD_CHARS + 1],
    char hash[SOTTO_BRIDGE_HASH_MAX], int *created) SOTTO_MUST_CHECK;
/* The account's address and server address ("" before sotto_init). */
const char *sotto_address(const struct sotto *s);
const char *sotto_server(const struct sotto *s);

/* ---- the connection ---- */

/*
 * Connects to the account's server, then: sends the outbox (oldest first, same ids),
 * replenishes one-time prekeys if the server's stock is low, rotates the signed prekey
 * when it is older than the rotation period (the previous one is kept for a grace period
 * so messages already under way still open). A no-op when connected.
 */
int sotto_connect(struct sotto *s, int timeout_ms) SOTTO_MUST_CHECK;
/* Closes the identified connection; the one kept for unidentified sends is separate. */
void sotto_disconnect(struct sotto *s);
/* Closes the connection kept for unidentified sends once no send has used it for
 * a minute (docs/CLIENT.md "Unidentified sends"). sotto_poll calls it; a process that
 * keeps a handle open without polling it calls it about once a second. */
void sotto_close_idle(struct sotto *s);
/* The connection's socket (poll it for POLLIN, then call sotto_poll), or -1. */
int sotto_fd(const struct sotto *s);
/* Sends what is left in the outbox. Returns the number still queued. */
int sotto_flush(struct sotto *s, int timeout_ms) SOTTO_MUST_CHECK;
/* Number of messages waiting in the outbox, or an error. */
int sotto_outbox_count(struct sotto *s) SOTTO_MUST_CHECK;

/* ---- sending ---- */

/*
 * Encrypts a text to a contact (starting a session from the server's prekey bundle if
 * there is none), queues it in the outbox, sends it and waits for the server's
 * acknowledgement. id (may be NULL) receives the message id.
 * SOTTO_ERR_QUEUED: the server could not be reached (or refused for now); the message is
 * in the outbox, shown as pending in the history (SOTTO_MSG_PENDING), and goes out with
 * the next sotto_connect or sotto_flush. Without a session yet, its content waits in the
 * (encrypted) store and the session is started from the bundle then. A queued message
 * that the server later refuses for good is marked SOTTO_MSG_FAILED.
 * SOTTO_ERR_UNTRUSTED_IDENTITY: the contact was verified and its key changed; run
 * sotto_trust first. SOTTO_ERR_UNKNOWN_USER: the server knows no such user;
 * SOTTO_ERR_OTHER_DOMAIN: the address is not on the account's server's domain;
 * SOTTO_ERR_BAD_ADDRESS: `to` is not an address; SOTTO_ERR_MESSAGE_TOO_LARGE: len is over
 * SOTTO_TEXT_MAX. Addresses are case-insensitive everywhere in this API.
 */
int sotto_send_text(struct sotto *s, const char *to, const char *text, size_t len,
    uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;
/*
 * The same for a mail: a whole RFC 5322 message (opaque here) of 1..SOTTO_MAIL_MAX bytes,
 * for the mail bridge. libsotto sends it in parts and the recipient's client files it
 * once, whole, in its history and INBOX. The same bytes to the same recipient get the same
 * id, so a mail submitted again is filed once. The history gets one entry for the mail
 * (id), which the recipient's receipt marks. SOTTO_ERR_QUEUED: some parts wait in the
 * outbox (in order). A refusal for good stops the rest of the mail.
 */
int sotto_send_mail(struct sotto *s, const char *to, const uint8_t *msg, size_t len,
    uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;
/*
 * After a send returned SOTTO_ERR_QUEUED: why the server did not take it now. 0 when it
 * was not reached (or the message waits behind others); otherwise its refusal for now:
 * SOTTO_ERR_MAILBOX_FULL (the recipient's mailbox on the server is full),
 * SOTTO_ERR_QUOTA (this account's storage quota there: messages it sent that their
 * recipients have not fetched), SOTTO_ERR_SERVER_FULL (the server's storage),
 * SOTTO_ERR_LIMIT (a rate limit), or a transport error.
 */
int sotto_queued_reason(const struct sotto *s);

enum sotto_receipt { SOTTO_RECEIPT_DELIVERED = 1, SOTTO_RECEIPT_READ = 2 };

/* Tells `to` that these of its messages were delivered or read (1..SOTTO_RECEIPT_IDS_MAX). */
int sotto_send_receipt(struct sotto *s, const char *to, enum sotto_receipt kind,
    const uint8_t (*ids)[SOTTO_ID_LEN], size_t n) SOTTO_MUST_CHECK;
/* Whether sotto_poll answers every received text or mail with a delivery receipt
 * (default on). */
void sotto_set_auto_receipts(struct sotto *s, int on);
/* Whether new sessions must be post-quantum (PQXDH), stored in this store: when on, a
 * send to a peer whose prekey bundle has no ML-KEM prekey fails with
 * SOTTO_ERR_CLASSICAL_REFUSED (no session is made), and a classical first message from a
 * peer is not accepted (it fails like an undecryptable one). Existing sessions are kept.
 * Default off. */
int sotto_set_require_pq(struct sotto *s, int on) SOTTO_MUST_CHECK;
/* 1 if on, 0 if off, or an error of the store. */
int sotto_require_pq(struct sotto *s) SOTTO_MUST_CHECK;

/* ---- receiving ---- */

enum sotto_event_type {
	SOTTO_EVENT_MESSAGE = 1,        /* a text or mail from peer */
	SOTTO_EVENT_RECEIPT = 2,        /* peer received or read our messages */
	SOTTO_EVENT_TIMER = 3,          /* peer set the conversation's expiry timer */
	SOTTO_EVENT_WARNING = 4,        /* an envelope was rejected, or a notice for peer */
	SOTTO_EVENT_GROUP = 5,          /* a group's membership or name changed (sotto/group.h) */
};

/* What a SOTTO_EVENT_GROUP says. */
enum sotto_group_change {
	SOTTO_CHANGE_JOINED = 1,        /* peer added us: members are everyone in the group */
	SOTTO_CHANGE_ADDED = 2,         /* peer added members[0] */
	SOTTO_CHANGE_REMOVED = 3,       /* peer removed members[0] */
	SOTTO_CHANGE_YOU_REMOVED = 4,   /* peer removed us: nothing sent after reaches us */
	SOTTO_CHANGE_RENAMED = 5,       /* peer named the group members[0] (= group_name) */
	SOTTO_CHANGE_TIMER = 6,         /* peer set the group's timer to expiry (0: off) */
	SOTTO_CHANGE_LEFT = 7,          /* peer left the group (members[0] is peer) */
	SOTTO_CHANGE_MISSED = 8,        /* we missed ev->gap entries of the group (its log was
	                                   full): a member must add us again (SOTTO_GROUP_MISSED) */
};

/* A FILE message's body is its caption (possibly empty); sotto_file_info (sotto/file.h) has
 * the file's name, size and, once fetched, where it was saved. SOTTO_CONTENT_GROUP_EVENT:
 * a history entry of a group's membership, name or timer change (sotto_message.change),
 * in the order the client took it. */
enum sotto_content { SOTTO_CONTENT_TEXT = 1, SOTTO_CONTENT_MAIL = 2, SOTTO_CONTENT_FILE = 3,
    SOTTO_CONTENT_GROUP_EVENT = 4 };

/* Warnings attached to an event (bit set). */
enum sotto_warning {
	SOTTO_WARN_NEW_CONTACT = 1u << 0,   /* first message from peer: key trusted on first use */
	SOTTO_WARN_KEY_CHANGED = 1u << 1,   /* peer's identity key changed (unverified: accepted) */
	SOTTO_WARN_KEY_BLOCKED = 1u << 2,   /* verified peer's key changed: sending refused
	                                       until sotto_trust */
	SOTTO_WARN_GAP = 1u << 3,           /* ev->gap messages from peer are missing before this */
	SOTTO_WARN_REJECTED = 1u << 4,      /* an envelope failed a check and was dropped */
	SOTTO_WARN_UNREADABLE = 1u << 5,    /* peer could not read a message of ours (a
	                                       decryption-failure receipt; ev->reason says which
	                                       and ev->time when the server took it) */
};

/* Valid only during the callback. */
struct sotto_event {
	enum sotto_event_type type;
	const char *peer;                   /* sender; "" for a rejected envelope */
	uint8_t id[SOTTO_ID_LEN];           /* the message's id */
	uint64_t time;                      /* server receive time, unix seconds */
	uint64_t sent;                      /* the sender's clock, unix milliseconds */
	enum sotto_content content;         /* MESSAGE */
	const uint8_t *body;                /* MESSAGE: the text or mail bytes */
	size_t body_len;
	uint64_t expires_at;                /* MESSAGE: unix seconds, 0 = never */
	enum sotto_receipt receipt;         /* RECEIPT */
	const uint8_t (*receipt_ids)[SOTTO_ID_LEN];
	size_t n_receipt_ids;
	uint32_t expiry;                    /* TIMER: seconds, 0 = off */
	unsigned warnings;                  /* enum sotto_warning */
	uint64_t gap;                       /* with SOTTO_WARN_GAP; GROUP with CHANGE_MISSED */
	const char *reason;                 /* with SOTTO_WARN_REJECTED or _UNREADABLE: why */
	const char *group;                  /* a group's event: its id in hex; else NULL */
	const char *group_name;             /* and its name */
	enum sotto_group_change change;     /* GROUP: what changed; peer is who changed it
	                                       ("" if unknown), id the history entry's */
	const char *const *members;         /* GROUP: who was added or removed, or the name */
	size_t n_members;
};

typedef void (*sotto_event_fn)(void *ctx, const struct sotto_event *ev);

/*
 * Receives for up to timeout_ms (0: only what is already there): opens each envelope,
 * checks its sender certificate, decrypts, stores it and only then acknowledges it to the
 * server; calls cb (may be NULL) for each new event. Duplicates are dropped silently.
 * Returns the number of events delivered, or an error (SOTTO_ERR_CLOSED: connection lost;
 * everything stored so far stays stored). Also deletes expired messages.
 */
int sotto_poll(struct sotto *s, int timeout_ms, sotto_event_fn cb, void *ctx) SOTTO_MUST_CHECK;

/*
 * The same without a callback: *out (free with sotto_events_free) receives copies of the
 * events, *n their number. Events up to the first error are returned with it.
 */
int sotto_receive(struct sotto *s, int timeout_ms, struct sotto_event **out, size_t *n)
    SOTTO_MUST_CHECK;
/* Frees events from sotto_receive, wiping message bodies. */
void sotto_events_free(struct sotto_event *v, size_t n);

/* A short English text for one warning bit. */
const char *sotto_warning_text(unsigned warning);

/* ---- contacts and verification ---- */

enum sotto_trust { SOTTO_TRUST_OK = 0, SOTTO_TRUST_CHANGED = 1, SOTTO_TRUST_BLOCKED = 2 };

struct sotto_contact {
	char address[SOTTO_ADDRESS_MAX + 1];
	uint8_t identity_key[32];           /* Ed25519 */
	int verified;                       /* safety number compared */
	enum sotto_trust trust;
	uint64_t first_seen;                /* unix seconds */
	uint64_t changed_at;                /* last key change, 0 if never */
	uint32_t expiry;                    /* disappearing-message timer, seconds, 0 = off */
	int has_session;                    /* a current session with the contact */
	int pq;                             /* that session is post-quantum (PQXDH) */
};

/* All contacts, sorted by address; free with sotto_contacts_free. */
int sotto_contacts(struct sotto *s, struct sotto_contact **out, size_t *n) SOTTO_MUST_CHECK;
void sotto_contacts_free(struct sotto_contact *v, size_t n);
/* Asks the server whether address has an account there: 0 if it does,
 * SOTTO_ERR_UNKNOWN_USER if it has none, SOTTO_ERR_OTHER_DOMAIN if the address is on a
 * domain the server does not serve, SOTTO_ERR_BAD_ADDRESS if it is not an address, or a
 * connection error. Needs a connection (sotto_connect). */
int sotto_lookup(struct sotto *s, const char *address, int timeout_ms) SOTTO_MUST_CHECK;

/* One contact; SOTTO_ERR_NOT_FOUND if unknown. */
int sotto_contact(struct sotto *s, const char *address, struct sotto_contact *out)
    SOTTO_MUST_CHECK;

/* The safety number of the conversation with peer: 60 digits in 12 groups, the same on
 * both sides; out gets SOTTO_SAFETY_LEN characters and a NUL. digits (may be NULL) gets
 * the 60 digits alone and a NUL (for a QR code). */
int sotto_safety_number(struct sotto *s, const char *peer, char out[SOTTO_SAFETY_LEN + 1],
    char digits[61]) SOTTO_MUST_CHECK;
/* Makes address a contact before any message was exchanged, so that its safety number
 * can be compared: asks the server for its identity key (with a prekey bundle; this uses
 * up one of the contact's one-time prekeys). 0 at once for a known contact. Connects. */
int sotto_contact_fetch(struct sotto *s, const char *address, int timeout_ms)
    SOTTO_MUST_CHECK;
/* Marks peer verified if number (the 60 digits, spaces allowed) is the safety number of
 * the key peer holds now, in one transaction: SOTTO_ERR_SAFETY_MISMATCH if it is not
 * (the key changed since the number was shown, or a typo), and nothing is marked. A later
 * key change then blocks sending until sotto_trust. */
int sotto_verify_number(struct sotto *s, const char *peer, const char *number)
    SOTTO_MUST_CHECK;
/* Marks peer verified whatever key it holds now: prefer sotto_verify_number, which binds
 * the mark to the number the user compared. */
int sotto_verify(struct sotto *s, const char *peer) SOTTO_MUST_CHECK;
/* Accepts peer's current identity key after a change: sending is allowed again; the
 * contact is no longer verified (the new key was not compared). */
int sotto_trust(struct sotto *s, const char *peer) SOTTO_MUST_CHECK;
/*
 * Delivery tokens (docs/PROTOCOL.md 7.0): contacts holding ours send to us sealed, on a
 * connection that does not name them. sotto_token_rotate makes a new token, registers it
 * with the server (the old one is refused from then on) and gives it to every contact we
 * have a session with and do not block (a message each; SOTTO_ERR_QUEUED when one of them
 * waits in the outbox). sotto_block marks peer blocked (no sending to it until
 * sotto_trust) and rotates, so that peer can no longer send to us sealed.
 */
int sotto_token_rotate(struct sotto *s) SOTTO_MUST_CHECK;
int sotto_block(struct sotto *s, const char *peer) SOTTO_MUST_CHECK;

/* ---- disappearing messages ---- */

/* Sets the conversation's timer (seconds, 0 = off, at most SOTTO_EXPIRY_MAX) and tells
 * peer, whose client applies the same timer. Messages sent or received afterwards are
 * deleted from both stores that long after they were sent or received. */
int sotto_set_expiry(struct sotto *s, const char *peer, uint32_t seconds) SOTTO_MUST_CHECK;
/* Deletes expired messages now (sotto_open and sotto_poll do it too). Returns the count. */
int sotto_expire(struct sotto *s) SOTTO_MUST_CHECK;

/* ---- history ---- */

enum sotto_direction { SOTTO_IN = 1, SOTTO_OUT = 2 };
enum sotto_msg_flag {
	SOTTO_MSG_DELIVERED = 1u << 0,
	SOTTO_MSG_READ = 1u << 1,
	SOTTO_MSG_KEY_CHANGED = 1u << 2,
	SOTTO_MSG_GAP_BEFORE = 1u << 3,
	SOTTO_MSG_PENDING = 1u << 4,        /* ours, in the outbox: not yet on the server */
	SOTTO_MSG_FAILED = 1u << 5,         /* ours, refused for good: never sent */
	SOTTO_MSG_UNREADABLE = 1u << 6,     /* ours; the recipient could not decrypt it (a
	                                     * decryption-failure receipt, SOTTO_WARN_UNREADABLE) */
};

struct sotto_message {
	int64_t row;                        /* local order; pass as `after` to page */
	char peer[SOTTO_ADDRESS_MAX + 1];
	uint8_t id[SOTTO_ID_LEN];
	enum sotto_direction dir;
	enum sotto_content content;
	unsigned flags;                     /* enum sotto_msg_flag */
	uint64_t seq;                       /* the sender's sequence number */
	uint64_t time;                      /* unix seconds */
	uint64_t expires_at;
	uint8_t *body;                      /* NUL-terminated for convenience */
	size_t body_len;
	char group[2 * SOTTO_GROUP_ID_MAX + 1];     /* a group message: its group's id in hex;
	                                               else "" */
	char group_name[SOTTO_GROUP_NAME_MAX + 1]; /* and the group's name now */
	enum sotto_group_change change;     /* SOTTO_CONTENT_GROUP_EVENT: what changed; peer
	                                     * is who changed it, body the members it names
	                                     * (or the new name), one a line */
	uint32_t expiry;                    /* SOTTO_CHANGE_TIMER: seconds, 0 = off */
};

/* Messages with peer (NULL: everyone) after row `after`, oldest first, at most max.
 * Free with sotto_history_free (bodies are wiped). */
int sotto_history(struct sotto *s, const char *peer, int64_t after, size_t max,
    struct sotto_message **out, size_t *n) SOTTO_MUST_CHECK;
/* The newest max messages before row `before` (0: the newest of all), oldest first:
 * the last page of a conversation, and paging backwards from it. */
int sotto_history_before(struct sotto *s, const char *peer, int64_t before, size_t max,
    struct sotto_message **out, size_t *n) SOTTO_MUST_CHECK;
void sotto_history_free(struct sotto_message *v, size_t n);

/* Hex of an id: 32 characters and a NUL. */
void sotto_id_hex(char out[2 * SOTTO_ID_LEN + 1], const uint8_t id[SOTTO_ID_LEN]);

#endif
