/*
 * One group member run by Sotto's MLS code, for tests: its signature key, a KeyPackage,
 * its group once it is in one, and what a client does with MLSMessages (join from a
 * Welcome, send and read application messages, take a Commit or a proposal). Used by
 * test_mls_group_ops (Sotto with itself) and tests/interop/mls (Sotto with ts-mls).
 */
#ifndef SOTTO_TESTS_MLS_MEMBER_H
#define SOTTO_TESTS_MLS_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mls/group.h"
#include "mls/key_package.h"

struct mls_member {
	uint8_t sig_pub[32], sig_sec[64];     /* sig_sec SECRET */
	struct mls_key_package_secrets ks;
	struct buf kp_bytes;                  /* our KeyPackage, bare */
	struct mls_key_package kp;            /* ... read from kp_bytes */
	struct mls_group g;
	int in;                               /* g holds a group */
	const struct mls_psk *psks;           /* external PSKs we hold (the caller's) */
	size_t n_psks;
};

/* A member named identity (its basic credential) with a fresh KeyPackage valid from an
 * hour ago for a day. 1 on success. */
int mls_member_init(struct mls_member *m, const char *identity);
void mls_member_free(struct mls_member *m);

/* Joins from the Welcome MLSMessage w (the tree out of band if tree is not NULL), with the
 * external PSKs m->psks: 0 or the error of reading or mls_join. */
int mls_member_join(struct mls_member *m, const uint8_t *w, size_t w_len, const uint8_t *tree,
    size_t tree_len);

/* data as an application message (a PrivateMessage of the current epoch, with the
 * authenticated_data aad) into out. */
int mls_member_send(struct mls_member *s, const uint8_t *data, size_t len, const uint8_t *aad,
    size_t aad_len, struct buf *out);

/* An application message read: decrypted, from a member leaf whose signature verifies.
 * The data into out. If as_epoch is not 0, r tries it as though its epoch were that one
 * (with its own keys). 0, or the error. */
int mls_member_read(struct mls_member *r, const uint8_t *msg, size_t len, struct buf *out,
    uint64_t as_epoch);

/* Any PublicMessage or PrivateMessage: a Commit processed, a proposal cached, an
 * application message read into out (*is_app set). 0, or the error. */
int mls_member_receive(struct mls_member *r, const uint8_t *msg, size_t len, struct buf *out,
    int *is_app);

/* g reads msg with mls_group_read_application: 0 if it is text from leaf sender,
 * SOTTO_ERR_INTERNAL if it is something else, or the error. */
int mls_member_reads_text(struct mls_group *g, const struct buf *msg, const char *text,
    uint32_t sender);
/* g's state written (mls_group_state_write) and read back into copy: 0 if the bytes copy
 * writes again are the same, or the error. */
int mls_member_state_round_trip(const struct mls_group *g, struct mls_group *copy);

/* m creates a group of one with this id. */
int mls_member_create(struct mls_member *m, const char *group_id);
/* ms[committer] commits (as PrivateMessages) adding add (may be NULL) and removing the
 * leaves in removes, with the cached proposals if cached; every member of ms[0..n) in the
 * group other than the committer, add and the removed processes the Commit, and add
 * joins. 0 or the first error. */
int mls_member_commit_all(struct mls_member *ms, size_t n, size_t committer,
    struct mls_member *add, const uint32_t *removes, size_t n_removes, int cached);

#endif
