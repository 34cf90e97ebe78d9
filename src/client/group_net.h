/*
 * The client side of the MLS delivery service's requests (docs/PROTOCOL-wire.md, 0x0A to
 * 0x0F): each function builds one request, sends it on a logged-in transport (ops, t: in
 * the product transport_conn over a struct conn), waits for its answer and returns the
 * server's status (0, a negative sotto_err) or the connection's error. MLS messages are opaque bytes here; the group logic above builds and reads them.
 *
 * Group entries arrive as GROUP_PUSH notices (conn_next_event: ev.type == PROTO_GROUP_PUSH,
 * ev.u.group_push), each acknowledged with group_net_received once stored.
 */
#ifndef SOTTO_CLIENT_GROUP_NET_H
#define SOTTO_CLIENT_GROUP_NET_H

#include <stddef.h>
#include <stdint.h>

#include "client/transport.h"
#include "wire/proto.h"

/* Uploads one-time KeyPackages and, if last_resort is not NULL, the last-resort one
 * (replacing the one before). left: the stock after (may be NULL). SOTTO_ERR_LIMIT: more
 * than the server keeps per account (nothing stored). */
int group_net_upload_key_packages(const struct transport_ops *ops, void *t,
    const struct proto_blob *kps, size_t n, const struct proto_blob *last_resort,
    struct proto_key_package_count *left, int timeout_ms) SOTTO_MUST_CHECK;

struct group_net_claimed {
	uint8_t identity_pk[32];        /* the owner's identity key, as the server has it */
	int last_resort;                /* 1: the owner's last-resort KeyPackage */
	uint8_t kp[PROTO_KEY_PACKAGE_MAX];
	size_t len;
};

/* One KeyPackage of the account at address (one-time ones first). UNKNOWN_USER,
 * OTHER_DOMAIN, NOT_FOUND (it has none). */
int group_net_claim_key_package(const struct transport_ops *ops, void *t,
    const char *address, struct group_net_claimed *out, int timeout_ms) SOTTO_MUST_CHECK;

/* A new group of id (1..PROTO_GROUP_ID_MAX bytes) at epoch 0, the caller its only member,
 * with the verifier of epoch 0's group token (NULL: none, no sealed message is taken until
 * a Commit registers one). EXISTS: the id is taken; TOO_MANY_GROUPS. */
int group_net_create(const struct transport_ops *ops, void *t, const uint8_t *id, size_t len,
    const uint8_t *verifier, int timeout_ms) SOTTO_MUST_CHECK;

#define GROUP_NET_WELCOMES_MAX 64       /* Welcomes in one Commit (MLS makes one) */

struct group_net_welcome {
	const uint8_t *data;            /* the MLS Welcome */
	size_t len;
	const char *const *to;          /* the addresses it is for */
	size_t n_to;
};

struct group_net_commit {
	const uint8_t *id;              /* the group */
	size_t id_len;
	uint64_t epoch;                 /* the epoch the Commit was made in */
	const uint8_t *verifier;        /* of the new epoch's group token; NULL: none */
	const uint8_t *commit;          /* the Commit MLSMessage */
	size_t commit_len;
	const char *const *add;         /* accounts the Commit adds (each gets one Welcome) */
	size_t n_add;
	const char *const *remove;      /* accounts it removes */
	size_t n_remove;
	const struct group_net_welcome *welcomes;
	size_t n_welcomes;
};

/* The group's next Commit. 0: accepted as res->seq, the group is now at res->epoch.
 * SOTTO_ERR_STALE_EPOCH: another Commit was accepted for that epoch; res->epoch is the
 * group's current one (apply the Commits before it, then make the change again).
 * UNKNOWN_GROUP, NOT_MEMBER, UNKNOWN_USER, EXISTS (an added account is a member),
 * GROUP_FULL, TOO_MANY_GROUPS, INVALID_ARG (Welcomes do not match the adds, or more than
 * GROUP_NET_WELCOMES_MAX of them). */
int group_net_commit(const struct transport_ops *ops, void *t, const struct group_net_commit *gc,
    struct proto_group_result *res, int timeout_ms) SOTTO_MUST_CHECK;

/* An application message to the whole group under client message id cmid (a retry with
 * the same id is stored once). res: its seq and the group's epoch. */
int group_net_send(const struct transport_ops *ops, void *t, const uint8_t *id, size_t id_len,
    const uint8_t cmid[16], const uint8_t *msg, size_t len, struct proto_group_result *res,
    int timeout_ms) SOTTO_MUST_CHECK;
/* The same as GROUP_SEND_SEALED on an unidentified connection t, authorised by token (the
 * group token of the epoch the message was made in). AUTH: not the group's current token;
 * STALE_EPOCH: the previous epoch's, res->epoch is the current one (follow the group, then
 * send again). */
int group_net_send_sealed(const struct transport_ops *ops, void *t, const uint8_t *id,
    size_t id_len, const uint8_t token[PROTO_GROUP_TOKEN_LEN], const uint8_t cmid[16],
    const uint8_t *msg, size_t len, struct proto_group_result *res, int timeout_ms)
    SOTTO_MUST_CHECK;

/* Acknowledges, per group, every entry up to seq (and the Welcome, if seq reaches it):
 * 1..PROTO_MAX_GROUP_ACKS of them. */
int group_net_received(const struct transport_ops *ops, void *t,
    const struct proto_group_ack *acks, size_t n, int timeout_ms) SOTTO_MUST_CHECK;

#endif
