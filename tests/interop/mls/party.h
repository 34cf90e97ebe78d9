/*
 * A member of a test group run either by Sotto (src/mls through tests/support/mls_member)
 * or by ts-mls (a member of the oracle, tests/interop/mls/oracle.mjs), behind one set of
 * calls, so that a scenario reads the same whoever plays each part. Every call returns 0
 * or an error: Sotto's negative sotto_err, or PARTY_TS_REFUSED when ts-mls refused (the
 * reason in party_oracle()->error).
 */
#ifndef SOTTO_TESTS_MLS_PARTY_H
#define SOTTO_TESTS_MLS_PARTY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mls_member.h"
#include "mls/suite.h"
#include "ts_oracle.h"

#define PARTY_TS_REFUSED 1
#define PARTY_NAME_MAX 32

struct party {
	char name[PARTY_NAME_MAX];   /* ts-mls: the oracle's member name; both: the identity */
	int ts;                      /* run by ts-mls, else by Sotto */
	int in;                      /* in the group */
	struct mls_member m;         /* Sotto's */
	struct buf ts_kp;            /* ts-mls's KeyPackage, bare */
};

/* What one Commit does. */
struct change {
	struct party *const *adds;   /* each by its KeyPackage */
	size_t n_adds;
	struct party *const *removes;
	size_t n_removes;
	int public;                  /* as a PublicMessage, else a PrivateMessage */
	int cached;                  /* Sotto: commit the epoch's proposals by reference
	                                (ts-mls always does) */
	int tree_out_of_band;        /* ts-mls: no ratchet_tree extension in the Welcome */
	const char *aad;             /* ts-mls: the Commit's authenticated_data, or NULL */
	const char *const *psk_ids;  /* ts-mls: PreSharedKey proposals of external PSKs ... */
	size_t n_psk_ids;
	const uint64_t *psk_epochs;  /* ... and of this group's resumption PSKs */
	size_t n_psk_epochs;
	int gce;                     /* ts-mls: a GroupContextExtensions proposal, with ... */
	uint16_t extension_type;     /* ... one extension of this type, or none if 0 */
	const uint8_t *extension;
	size_t extension_len;
};

/* What members compare to agree on an epoch. */
struct party_state {
	uint64_t epoch;
	uint32_t leaf, n_leaves;
	uint8_t epoch_authenticator[MLS_HASH_LEN];
	uint8_t tree_hash[MLS_HASH_LEN];
	uint8_t exported[MLS_HASH_LEN];          /* MLS-Exporter("sotto interop", "ctx", 32) */
};

void party_use_oracle(struct ts_oracle *o);
struct ts_oracle *party_oracle(void);

/* A new member with a fresh KeyPackage; grease: ts-mls lists a GREASE value in each of
 * its capabilities. */
int party_init(struct party *p, const char *name, int ts, int grease);
void party_free(struct party *p);
const struct buf *party_key_package(const struct party *p);

int party_create_group(struct party *p, const char *group_id);
/* p commits c: the Commit into commit, the Welcome (empty if none) into welcome, and for
 * ts-mls the ratchet tree after it into tree (Sotto leaves it empty). */
int party_commit(struct party *p, const struct change *c, struct buf *commit, struct buf *welcome,
    struct buf *tree);
/* A Commit, proposal or application message received; *removed set when p learns it was
 * removed (ts-mls says so; Sotto refuses the Commit with SOTTO_ERR_STATE). */
int party_process(struct party *p, const struct buf *msg, int *removed);
int party_join(struct party *p, const struct buf *welcome, const struct buf *tree);
int party_send(struct party *p, const uint8_t *data, size_t len, struct buf *out);
/* The same with authenticated_data (a string, sent as its bytes). */
int party_send_aad(struct party *p, const uint8_t *data, size_t len, const char *aad,
    struct buf *out);
/* An application message read, its data into out. */
int party_read(struct party *p, const struct buf *msg, struct buf *out);
/* An Update proposal of p as a PublicMessage (for ts-mls, which has no call for it, the
 * oracle makes the LeafNode with ts-mls's encoders). */
int party_propose_update(struct party *p, struct buf *out);
/* A Remove (of target's leaf) or an Add (of target's KeyPackage) proposal of p. */
int party_propose(struct party *p, int add, struct party *target, int public, struct buf *out);
int party_state(struct party *p, struct party_state *st);
/* p holds the external PSK psk (its id a string; for Sotto, psk must outlive p's group),
 * before it joins. */
int party_hold_psk(struct party *p, const struct mls_psk *psk);
/* A readable name for a result: "ok", Sotto's error name, or ts-mls's refusal. */
const char *party_result(int r);

#endif
