/*
 * X3DH key agreement (Signal's specification), generic over a ratchet suite that fixes the
 * identity-key encoding, the prekey signature scheme and the KDF. The DH outputs are
 * concatenated in the specification's order,
 *     DH1 = DH(IK_A, SPK_B) || DH2 = DH(EK_A, IK_B) || DH3 = DH(EK_A, SPK_B) [|| DH4 = DH(EK_A, OPK_B)]
 * and handed to suite->kdf_x3dh, which adds its own prefix and labels.
 *
 * PQXDH (Signal's specification, revision 3): when the bundle carries a signed KEM prekey,
 * the initiator also encapsulates to it and the KEM shared secret SS is appended,
 *     DH1 || DH2 || DH3 [|| DH4] || SS
 * and handed to suite->kdf_pqxdh (another label). The ciphertext and the KEM prekey's id
 * travel in the prekey message (x3dh_init_info).
 */
#ifndef SOTTO_CRYPTO_X3DH_H
#define SOTTO_CRYPTO_X3DH_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "crypto/dh.h"

struct ratchet_suite;

#define X3DH_IDENT_PUB_MAX 33     /* native: 32 (Ed25519); Signal: 33 (0x05 || X25519) */
#define X3DH_SIGN_SECRET_MAX 64
#define X3DH_SIG_LEN 64
#define X3DH_DH_MAX (4 * DH_SHARED_LEN)
/* PQXDH's KEM (ML-KEM-768, crypto/mlkem.h) */
#define X3DH_KEM_EK_LEN 1184
#define X3DH_KEM_DK_LEN 2400
#define X3DH_KEM_CT_LEN 1088
#define X3DH_KEM_SS_LEN 32
#define X3DH_IKM_MAX (X3DH_DH_MAX + X3DH_KEM_SS_LEN)

/* A long-term identity key pair in a suite's terms. */
struct x3dh_identity {
	uint8_t pub[X3DH_IDENT_PUB_MAX];         /* public, in the suite's encoding */
	size_t pub_len;
	uint8_t dh_pub[DH_PUBLIC_LEN];           /* public, X25519 form used in X3DH */
	uint8_t dh_sec[DH_SECRET_LEN];           /* SECRET */
	uint8_t sign_sec[X3DH_SIGN_SECRET_MAX];  /* SECRET: the suite's signing key (native:
	                                            Ed25519 seed||pk; Signal: X25519 scalar) */
};

/* A signed prekey or one-time prekey pair (X25519). */
struct x3dh_keypair {
	uint32_t id;
	uint8_t pub[DH_PUBLIC_LEN];
	uint8_t sec[DH_SECRET_LEN];              /* SECRET */
};

/* What a responder publishes; all public. */
struct x3dh_bundle {
	uint8_t ident_pub[X3DH_IDENT_PUB_MAX];   /* suite encoding */
	size_t ident_pub_len;
	uint32_t registration_id;                /* Signal suite only; native ignores it */
	uint32_t spk_id;
	uint8_t spk_pub[DH_PUBLIC_LEN];
	uint8_t spk_sig[X3DH_SIG_LEN];
	int has_opk;
	uint32_t opk_id;
	uint8_t opk_pub[DH_PUBLIC_LEN];
	/* PQXDH: a signed ML-KEM prekey (one-time or last-resort), or none (classical). */
	int has_kem;
	uint32_t kem_id;
	uint8_t kem_ek[X3DH_KEM_EK_LEN];
	uint8_t kem_sig[X3DH_SIG_LEN];
};

/* What the initiator tells the responder in its prekey (session-initiating) messages; all
 * public. */
struct x3dh_init_info {
	uint32_t registration_id;                /* the initiator's (Signal suite only) */
	uint32_t spk_id;                         /* which of the responder's prekeys were used */
	int has_opk;
	uint32_t opk_id;
	uint8_t base_pub[DH_PUBLIC_LEN];         /* the initiator's ephemeral EK_A */
	uint8_t ident_pub[X3DH_IDENT_PUB_MAX];   /* the initiator's identity, suite encoding */
	size_t ident_pub_len;
	/* PQXDH: the responder's KEM prekey used and the encapsulation to it. */
	int has_kem;
	uint32_t kem_id;
	uint8_t kem_ct[X3DH_KEM_CT_LEN];
};

/* Fresh random prekey pair with the given id. */
int x3dh_keypair_generate(struct x3dh_keypair *kp, uint32_t id) SOTTO_MUST_CHECK;
void x3dh_keypair_wipe(struct x3dh_keypair *kp);
void x3dh_identity_wipe(struct x3dh_identity *id);

/* Signature of the identity over a signed prekey, in the suite's scheme. */
int x3dh_sign_prekey(const struct ratchet_suite *s, const struct x3dh_identity *me,
    const struct x3dh_keypair *spk, uint8_t sig[static X3DH_SIG_LEN]) SOTTO_MUST_CHECK;
/* Builds the bundle to publish (opk may be NULL). */
int x3dh_bundle_make(const struct ratchet_suite *s, struct x3dh_bundle *b,
    const struct x3dh_identity *me, uint32_t registration_id, const struct x3dh_keypair *spk,
    const struct x3dh_keypair *opk) SOTTO_MUST_CHECK;
/* Checks the identity encoding and the signed-prekey signature (and the KEM prekey's, if
 * the bundle has one). */
int x3dh_bundle_verify(const struct ratchet_suite *s, const struct x3dh_bundle *b) SOTTO_MUST_CHECK;

/*
 * Initiator: verifies the bundle, makes an ephemeral key, and derives rk and ck (SECRET).
 * info receives what the responder needs (registration_id is left 0 for the caller). With
 * a KEM prekey in the bundle this is PQXDH: its signature is checked
 * (SOTTO_ERR_BAD_SIGNATURE), a key that fails FIPS 203's input check is SOTTO_ERR_BAD_KEY,
 * and a suite without kdf_pqxdh refuses it (SOTTO_ERR_UNSUPPORTED).
 */
int x3dh_initiate(const struct ratchet_suite *s, const struct x3dh_identity *me,
    const struct x3dh_bundle *b, struct x3dh_init_info *info, uint8_t rk[static 32],
    uint8_t ck[static 32]) SOTTO_MUST_CHECK;
/*
 * Responder: spk and opk (NULL when info->has_opk is 0) must be the pairs info names;
 * SOTTO_ERR_NOT_FOUND when the ids disagree, or when kem_dk (the ML-KEM decapsulation key
 * of the KEM prekey info names, X3DH_KEM_DK_LEN bytes, SECRET) is NULL for a PQXDH message
 * or given for a classical one. rk and ck are SECRET.
 */
int x3dh_respond(const struct ratchet_suite *s, const struct x3dh_identity *me,
    const struct x3dh_keypair *spk, const struct x3dh_keypair *opk, const uint8_t *kem_dk,
    const struct x3dh_init_info *info, uint8_t rk[static 32], uint8_t ck[static 32]) SOTTO_MUST_CHECK;

#endif
