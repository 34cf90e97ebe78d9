/*
 * libsotto groups: MLS groups (RFC 9420) of Sotto accounts (docs/CLIENT.md "Groups").
 *
 * A group is named in every call by `group`: its id in hex (SOTTO_GROUP_ID_HEX digits,
 * as sotto_group_create and sotto_groups give it) or its name as its members see it
 * (SOTTO_ERR_NOT_FOUND if no group has it, SOTTO_ERR_EXISTS if several do: use the id).
 * Each call connects if needed and returns once the server took the change.
 *
 * Invitations, members' messages and membership changes arrive with sotto_poll and
 * sotto_receive: a group message is a SOTTO_EVENT_MESSAGE whose group and group_name are
 * set (peer is the member who sent it), a change is a SOTTO_EVENT_GROUP. Each is stored
 * (messages in the history, with their group) before it is acknowledged to the server.
 *
 * KeyPackages (what lets others add this account) are uploaded by sotto_init and
 * sotto_connect when the server's stock is low, and again when the server says so.
 */
#ifndef SOTTO_GROUP_H
#define SOTTO_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/sotto.h"

#define SOTTO_GROUP_ID_HEX 32           /* hex digits of the id of a group we create */
#define SOTTO_GROUP_ADD_MAX 64          /* members added or removed in one call */
/* A group's mail address (docs/PROTOCOL.md 14.5): "group+" ID "@" DOMAIN, the id in lower
 * case hex, on the domain of the account's server. No account can own it: a user name has
 * no '+'. Ids longer than SOTTO_GROUP_ADDRESS_ID_HEX digits (never one Sotto made) would
 * not fit RFC 5321's 64-byte local part; such a group has no address. */
#define SOTTO_GROUP_ADDRESS_LOCAL "group+"
#define SOTTO_GROUP_ADDRESS_ID_HEX (64 - 6)

/*
 * Creates a group called name (1..SOTTO_GROUP_NAME_MAX bytes) with us in it, then adds
 * members as sotto_group_add does. id receives its id in hex. If adding fails, the group
 * exists (with us alone, or fewer) and the error is returned; id is set either way once
 * the server created it.
 */
int sotto_group_create(struct sotto *s, const char *name, const char *const *members,
    size_t n, char id[2 * SOTTO_GROUP_ID_MAX + 1]) SOTTO_MUST_CHECK;
/*
 * Adds accounts (1..SOTTO_GROUP_ADD_MAX) in one Commit: each one's KeyPackage is claimed
 * from the server, whose credential must carry the identity key that the server names for
 * that address, and match the contact's key if it is one (SOTTO_ERR_UNTRUSTED_IDENTITY
 * for a verified contact whose key changed; an unverified one is accepted with its key
 * and shown as changed in sotto_group_members). SOTTO_ERR_UNKNOWN_USER: no such account;
 * SOTTO_ERR_NOT_FOUND: it has no KeyPackage (it never ran a client that uploads them);
 * SOTTO_ERR_EXISTS: already a member. When another member's Commit took the epoch first,
 * it is processed and ours made again.
 */
int sotto_group_add(struct sotto *s, const char *group, const char *const *members, size_t n)
    SOTTO_MUST_CHECK;
/* Removes members (every device of each) in one Commit. SOTTO_ERR_NOT_FOUND: one is not a
 * member; SOTTO_ERR_INVALID_ARG: our own address (use sotto_group_leave). */
int sotto_group_remove(struct sotto *s, const char *group, const char *const *members,
    size_t n) SOTTO_MUST_CHECK;
/* Asks to leave: the next member online commits our removal (we are shown as leaving
 * until then, and then see SOTTO_CHANGE_YOU_REMOVED). */
int sotto_group_leave(struct sotto *s, const char *group) SOTTO_MUST_CHECK;
/* Sends a text (1..SOTTO_TEXT_MAX bytes) to every member; id (may be NULL) receives its
 * message id. SOTTO_ERR_STATE: we are no longer a member. */
int sotto_group_send(struct sotto *s, const char *group, const char *text, size_t len,
    uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;
/* The same for a whole mail (an RFC 5322 message of 1..SOTTO_MAIL_MAX bytes), sent as
 * parts like sotto_send_mail's, one application message each: members' clients file it
 * once, whole, and see one SOTTO_CONTENT_MAIL message; our history has one entry (id). */
int sotto_group_send_mail(struct sotto *s, const char *group, const uint8_t *msg, size_t len,
    uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;

/* The group address of the group id (hex, any case) on domain into out: 0, or
 * SOTTO_ERR_INVALID_ARG for an id that is not hex of 1..SOTTO_GROUP_ADDRESS_ID_HEX / 2
 * bytes or a domain that is not a valid one. */
int sotto_group_address(const char *id_hex, const char *domain,
    char out[SOTTO_ADDRESS_MAX + 1]) SOTTO_MUST_CHECK;
/* Whether addr (untrusted; any case) is a group address: 0 with the id in lower case hex
 * in id_hex and the domain in lower case in domain, else SOTTO_ERR_MALFORMED. */
int sotto_group_address_parse(const char *addr, char id_hex[2 * SOTTO_GROUP_ID_MAX + 1],
    char domain[SOTTO_ADDRESS_MAX + 1]) SOTTO_MUST_CHECK;

/* Renames the group (name NULL: unchanged) and sets its disappearing-message timer
 * (seconds, 0 = off, at most SOTTO_EXPIRY_MAX; negative: unchanged) for every member:
 * texts sent or received after it are deleted that long after. */
int sotto_group_set_info(struct sotto *s, const char *group, const char *name,
    int64_t expiry) SOTTO_MUST_CHECK;

enum sotto_group_status {
	SOTTO_GROUP_MEMBER = 0,
	SOTTO_GROUP_LEAVING = 1,        /* we asked to leave; a member has not committed it yet */
	SOTTO_GROUP_REMOVED = 2,        /* we were removed: nothing sent after reaches us */
	SOTTO_GROUP_MISSED = 3,         /* the server dropped entries before we read them: we
	                                 * cannot follow the group until a member adds us again */
};

struct sotto_group {
	char id[2 * SOTTO_GROUP_ID_MAX + 1];    /* hex */
	char name[SOTTO_GROUP_NAME_MAX + 1];
	char address[SOTTO_ADDRESS_MAX + 1];    /* its mail address; "" if the id is too long */
	enum sotto_group_status status;
	uint32_t expiry;                        /* disappearing-message timer, seconds */
	size_t n_members;                       /* 0 once removed */
};

/* Every group, sorted by name; free with free(). */
int sotto_groups(struct sotto *s, struct sotto_group **out, size_t *n) SOTTO_MUST_CHECK;

/* A member's identity key against our contacts. */
enum sotto_member_trust {
	SOTTO_MEMBER_SELF = 0,
	SOTTO_MEMBER_VERIFIED = 1,      /* a contact, the same key, safety number compared */
	SOTTO_MEMBER_KNOWN = 2,         /* a contact, the same key, not verified */
	SOTTO_MEMBER_UNKNOWN = 3,       /* not a contact: only its credential vouches */
	SOTTO_MEMBER_CHANGED = 4,       /* a contact whose key is another one */
	SOTTO_MEMBER_BLOCKED = 5,       /* a verified contact whose key is another one */
};

struct sotto_group_member {
	char address[SOTTO_ADDRESS_MAX + 1];
	enum sotto_member_trust trust;
};

/* The members now (ourselves included); free with free(). */
int sotto_group_members(struct sotto *s, const char *group, struct sotto_group_member **out,
    size_t *n) SOTTO_MUST_CHECK;
/* "self", "verified", "known", "unknown", "changed", "blocked". */
const char *sotto_member_trust_name(enum sotto_member_trust t);

/* A group's change in English, without the time and the group ("alice@x added bob@x",
 * "you were added by alice@x; members: ...", "bob@x named the group \"NEW\""): actor made
 * it ("" or NULL: "a member"), members are whom it names (RENAMED: the new name; MISSED:
 * the group's name), expiry the timer (TIMER; MISSED: how many entries were missed). Writes at most cap bytes with the NUL, as snprintf does, and returns
 * the length the whole text needs. The names are copied as they are: a terminal shows
 * them escaped. */
/* The names of a history entry of a group's change (m->content SOTTO_CONTENT_GROUP_EVENT;
 * its body, one a line; RENAMED: the name) into v, at most max, pointing into buf, a
 * copy of the body cut to buf_len - 1 bytes (SOTTO_GROUP_CHANGE_TEXT_MAX holds any);
 * returns how many. */
#define SOTTO_GROUP_CHANGE_TEXT_MAX (SOTTO_GROUP_ADD_MAX * (SOTTO_ADDRESS_MAX + 1) + 1)
size_t sotto_group_change_names(const struct sotto_message *m, char *buf, size_t buf_len,
    const char **v, size_t max);
size_t sotto_group_change_text(enum sotto_group_change c, const char *actor,
    const char *const *members, size_t n, uint32_t expiry, char *out, size_t cap);

#endif
