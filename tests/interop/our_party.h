/*
 * One Sotto party for the interop tests: an identity, a registration id, a signed prekey and
 * one-time prekeys under the Signal-v3 suite, and at most one session (with one peer), all
 * driven through Sotto's X3DH, session and ratchet code. Bundles are exchanged with
 * libsignal-protocol-c in its own terms (struct sig_bundle). Functions return 0 or a
 * negative sotto_err.
 */
#ifndef SOTTO_INTEROP_OUR_PARTY_H
#define SOTTO_INTEROP_OUR_PARTY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/e2e_session.h"
#include "crypto/x3dh.h"
#include "sig_party.h"

#define OUR_OPK_MAX 8

struct our_party {
	struct x3dh_identity id;                 /* secret parts inside */
	uint32_t registration_id;
	struct x3dh_keypair spk;                 /* secret parts inside */
	struct x3dh_keypair opk[OUR_OPK_MAX];    /* ids 1..nopk */
	int opk_live[OUR_OPK_MAX];
	unsigned nopk;
	uint32_t max_skip;                       /* 0: the default */
	struct e2e_session *sess;
};

int our_party_init(struct our_party *p, unsigned nopk) SOTTO_MUST_CHECK;
void our_party_wipe(struct our_party *p);

/* Our bundle in libsignal's terms (prekey opk_id when with_opk). */
int our_party_bundle(struct our_party *p, struct sig_bundle *b, int with_opk, uint32_t opk_id)
    SOTTO_MUST_CHECK;
/* Starts our session with a libsignal party from its bundle. */
int our_party_initiate(struct our_party *p, const struct sig_bundle *b) SOTTO_MUST_CHECK;

/* *out is malloc'ed. */
int our_party_encrypt(struct our_party *p, const uint8_t *pt, size_t len, uint8_t **out,
    size_t *out_len, int *is_prekey) SOTTO_MUST_CHECK;
/* Starts the responder's session on the first prekey message; *pt is malloc'ed. */
int our_party_decrypt(struct our_party *p, int is_prekey, const uint8_t *msg, size_t len,
    uint8_t **pt, size_t *pt_len) SOTTO_MUST_CHECK;
/* The serialized session (malloc'ed), to check that a rejected message changed nothing. */
int our_party_state(struct our_party *p, uint8_t **out, size_t *out_len) SOTTO_MUST_CHECK;
/* Replaces the session by one serialized and deserialized again. */
int our_party_reload(struct our_party *p) SOTTO_MUST_CHECK;

#endif
