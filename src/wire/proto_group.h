/*
 * The delivery service's requests and notices for MLS groups (docs/PROTOCOL-wire.md section
 * 4, 0x0A..0x0F and 0x42..0x43): the KeyPackage directory, group creation, Commits with
 * their Welcomes, application messages to a whole group, and their delivery and
 * acknowledgement. MLS messages are opaque bytes here; the server parses none of them.
 *
 * Lists of variable-length items (addresses, Welcomes, acknowledgements) are decoded in
 * place: the decoder checks every item once and keeps the raw bytes, which the *_next
 * iterators then read again without failing. To encode, set the items array instead.
 */
#ifndef SOTTO_WIRE_PROTO_GROUP_H
#define SOTTO_WIRE_PROTO_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "sotto/error.h"
#include "wire/address.h"

#define PROTO_GROUP_ID_MAX 64                   /* MLS group_id bytes */
#define PROTO_KEY_PACKAGE_MAX 8192              /* one KeyPackage (MLSMessage) */
#define PROTO_MAX_KEY_PACKAGES 100              /* one-time KeyPackages per upload */
#define PROTO_GROUP_DATA_MAX (16u * 1024 * 1024) /* a Commit, Welcome or message */
#define PROTO_MAX_GROUP_ACKS 256                /* acknowledgements per GROUP_RECEIVED */
#define PROTO_GROUP_LIST_MAX 0xffffu            /* addresses or Welcomes in one list */
/*
 * The group token (docs/PROTOCOL.md 14.6): MLS-Exporter(PROTO_GROUP_TOKEN_EXPORTER, group_id,
 * 32) of an epoch, which every member of that epoch can compute and nobody else; the
 * server keeps only its verifier, proto_group_verifier(token).
 */
#define PROTO_GROUP_TOKEN_LEN 32                /* a group token (secret) and its verifier */
#define PROTO_GROUP_TOKEN_EXPORTER "sotto group token"
#define PROTO_GROUP_VERIFIER_LABEL "sotto/group-token/v1"

/* GROUP_PUSH kinds */
enum proto_group_kind {
	PROTO_GROUP_WELCOME = 1,
	PROTO_GROUP_COMMIT_ENTRY = 2,
	PROTO_GROUP_APPLICATION = 3,
	/* entries were dropped before you read them (the log was full): seq is the last one
	 * you missed (acknowledge it), epoch 0, data their number (u64) */
	PROTO_GROUP_MISSED = 4
};
#define PROTO_GROUP_MISSED_LEN 8                /* a MISSED push's data: u64 entries */
#define PROTO_GROUP_FLAG_REMOVED 0x01           /* the last entry: the Commit removing you */

struct proto_blob {
	const uint8_t *p;                       /* borrowed */
	size_t len;
};

struct proto_group_id {
	uint8_t id[PROTO_GROUP_ID_MAX];
	size_t len;                             /* 1..PROTO_GROUP_ID_MAX */
};

struct proto_addr_list {
	size_t n;
	const char *const *addrs;               /* encode: n addresses */
	const uint8_t *raw;                     /* decoded: n lv16 addresses, each valid */
	size_t raw_len;
};

struct proto_welcome {
	struct proto_blob data;                 /* the MLS Welcome */
	struct proto_addr_list to;              /* the accounts it is for (1..) */
};

struct proto_welcome_list {
	size_t n;
	const struct proto_welcome *items;      /* encode */
	const uint8_t *raw;                     /* decoded */
	size_t raw_len;
};

struct proto_group_ack {
	struct proto_group_id group;
	uint64_t seq;                           /* everything of the group up to seq */
};

struct proto_group_acks {
	size_t n;                               /* 1..PROTO_MAX_GROUP_ACKS */
	const struct proto_group_ack *items;    /* encode */
	const uint8_t *raw;                     /* decoded */
	size_t raw_len;
};

struct proto_upload_key_packages {
	size_t n;                               /* one-time, 0..PROTO_MAX_KEY_PACKAGES */
	struct proto_blob kp[PROTO_MAX_KEY_PACKAGES];
	struct proto_blob last_resort;          /* len 0: none in this upload */
};

struct proto_key_package_count {
	uint32_t count;                         /* one-time KeyPackages left */
	int has_last_resort;
};

struct proto_claimed_key_package {
	uint8_t identity_pk[32];                /* the owner's account identity key */
	int last_resort;                        /* 1: the last-resort one (not used up) */
	struct proto_blob kp;
};

struct proto_group_create {
	struct proto_group_id group;
	uint8_t verifier[PROTO_GROUP_TOKEN_LEN]; /* of epoch 0's token; zeros: none */
};

struct proto_group_commit {
	struct proto_group_id group;
	uint64_t epoch;                         /* the epoch the Commit was made in */
	uint8_t verifier[PROTO_GROUP_TOKEN_LEN]; /* of the token of the epoch it starts */
	struct proto_blob commit;               /* MLSMessage */
	struct proto_addr_list add;
	struct proto_addr_list remove;
	struct proto_welcome_list welcomes;
};

struct proto_group_send {
	struct proto_group_id group;
	uint8_t token[PROTO_GROUP_TOKEN_LEN];   /* GROUP_SEND_SEALED only; SECRET */
	uint8_t client_msg_id[16];
	struct proto_blob message;              /* MLSMessage (PrivateMessage) */
};

struct proto_group_result {                     /* GROUP_COMMIT, GROUP_SEND(_SEALED) */
	uint64_t seq;                           /* its place in the group's log */
	uint64_t epoch;                         /* COMMIT: the new epoch; SEND: the current */
};

struct proto_group_push {
	uint8_t kind;                           /* enum proto_group_kind */
	uint8_t flags;                          /* PROTO_GROUP_FLAG_* */
	struct proto_group_id group;
	uint64_t seq;
	uint64_t epoch;
	uint64_t timestamp;                     /* server receive time, unix milliseconds */
	struct proto_blob data;
};

/* Iterators over decoded (or raw) lists: *off starts at 0. 0, or SOTTO_ERR_NOT_FOUND at
 * the end. */
int proto_addr_list_next(const struct proto_addr_list *l, size_t *off,
    char out[ADDRESS_MAX + 1]) SOTTO_MUST_CHECK;
int proto_welcome_list_next(const struct proto_welcome_list *l, size_t *off,
    struct proto_welcome *out) SOTTO_MUST_CHECK;
int proto_group_acks_next(const struct proto_group_acks *l, size_t *off,
    struct proto_group_ack *out) SOTTO_MUST_CHECK;

/* The verifier the server keeps of a group token: BLAKE2b-256 of the token keyed with
 * PROTO_GROUP_VERIFIER_LABEL. The server can check a token against it and cannot make one. */
void proto_group_verifier(uint8_t verifier[PROTO_GROUP_TOKEN_LEN],
    const uint8_t token[PROTO_GROUP_TOKEN_LEN]);

struct proto_msg;
/* proto.c's codec for the group types: 1 if m->type is one of them (r set), else 0. */
int proto_group_encode(const struct proto_msg *m, struct buf *b, int *r);
int proto_group_decode(struct cur *c, struct proto_msg *m);
/* The same for their successful responses' results (and the STALE_EPOCH answer). */
int proto_group_encode_result(const struct proto_msg *m, struct buf *b, int *r);
int proto_group_decode_result(struct cur *c, struct proto_msg *m);

#endif
