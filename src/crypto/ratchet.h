/*
 * The Double Ratchet (Signal's specification), generic over a suite.
 *
 * The core owns the state machine: DH ratchet steps, sending and receiving chains, skipped
 * message keys (bounded), deletion of used keys, rejection of replays, and the rule that a
 * message that fails to decrypt leaves the state exactly as it was. A suite owns the bytes:
 * its KDFs and labels, how a 32-byte message-key seed becomes cipher keys, the message
 * format and its authentication, the prekey-message wrapper, and the identity encoding and
 * signature scheme. Ratchet public keys are raw 32-byte X25519 values inside the core; a
 * suite encodes them as it likes on the wire.
 *
 * Initialisation follows libsignal: Alice performs the first DH ratchet step immediately
 * against Bob's signed prekey; Bob's first ratchet key pair is his signed prekey.
 */
#ifndef SOTTO_CRYPTO_RATCHET_H
#define SOTTO_CRYPTO_RATCHET_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "base/buf.h"
#include "crypto/dh.h"
#include "crypto/mlkem.h"
#include "crypto/x3dh.h"

#define RATCHET_KEY_LEN 32                /* root key, chain key, message-key seed */
#define RATCHET_MAX_SKIP_DEFAULT 2000
#define RATCHET_MAX_SKIP_LIMIT 100000     /* largest max_skip a state may carry */
#define RATCHET_PLAINTEXT_MAX (1u << 20)
#define RATCHET_MSG_MAX (RATCHET_PLAINTEXT_MAX + 4096)   /* room for a KEM header */
#define RATCHET_KEM_EK_LEN MLKEM768_EK_LEN
#define RATCHET_KEM_CT_LEN MLKEM768_CT_LEN

/* The header every ratchet message carries, decoded. */
struct ratchet_header {
	uint8_t dh_pub[DH_PUBLIC_LEN];    /* sender's current ratchet public key, raw X25519 */
	/* Length of the sender's previous sending chain: every index < pn of that chain may
	 * still arrive, and the receiver keeps their keys. A suite whose wire carries the last
	 * index instead (libsignal: max(count - 1, 0)) converts in seal and parse_header:
	 * wire = pn ? pn - 1 : 0 and pn = wire + 1 (one key too many kept when count was 0,
	 * which is harmless). */
	uint32_t pn;
	uint32_t n;                       /* index of this message in its chain */
	/* The KEM ratchet part (PQ sessions only, docs/PROTOCOL.md 4.4), borrowed: the
	 * sender's current ML-KEM-768 encapsulation key and, from the sender's second chain
	 * on, the ciphertext encapsulated to the receiver's last key. NULL when absent. */
	const uint8_t *kem_ek;
	const uint8_t *kem_ct;
};

/* Identities bound into every message, in the suite's encoding. */
struct ratchet_ad {
	const uint8_t *sender_ident;
	size_t sender_ident_len;
	const uint8_t *receiver_ident;
	size_t receiver_ident_len;
};

/*
 * A suite. Every function returns 0 or a negative sotto_err. Key arguments are SECRET; a
 * suite wipes its own temporaries. seal and open append to out; on failure the core
 * discards whatever they appended.
 */
struct ratchet_suite {
	const char *name;
	uint8_t id;                /* recorded in serialized state; native = 1 */
	size_t ident_pub_len;      /* length of an encoded identity public key */

	/* Encoded identity public key -> its X25519 form; SOTTO_ERR_BAD_KEY if malformed. */
	int (*ident_to_dh)(uint8_t dh_pub[DH_PUBLIC_LEN], const uint8_t *ident, size_t len);
	int (*sign_prekey)(uint8_t sig[X3DH_SIG_LEN], const struct x3dh_identity *me,
	    uint32_t spk_id, const uint8_t spk_pub[DH_PUBLIC_LEN]);
	int (*verify_prekey)(const uint8_t *ident, size_t ident_len, uint32_t spk_id,
	    const uint8_t spk_pub[DH_PUBLIC_LEN], const uint8_t sig[X3DH_SIG_LEN]);

	/* X3DH: dh = DH1||DH2||DH3[||DH4] (96 or 128 bytes) -> root key, chain key. */
	int (*kdf_x3dh)(uint8_t rk[RATCHET_KEY_LEN], uint8_t ck[RATCHET_KEY_LEN],
	    const uint8_t *dh, size_t dh_len);
	/* PQXDH: ikm = DH1||DH2||DH3[||DH4]||SS (128 or 160 bytes) -> root key, chain key;
	 * and the signature of a KEM prekey. NULL for a suite without PQXDH (then a bundle
	 * with a KEM prekey is SOTTO_ERR_UNSUPPORTED). */
	int (*kdf_pqxdh)(uint8_t rk[RATCHET_KEY_LEN], uint8_t ck[RATCHET_KEY_LEN],
	    const uint8_t *ikm, size_t ikm_len);
	int (*verify_kem_prekey)(const uint8_t *ident, size_t ident_len, uint32_t id,
	    const uint8_t ek[X3DH_KEM_EK_LEN], const uint8_t sig[X3DH_SIG_LEN]);
	/* DH ratchet step: (rk, DH output) -> (new rk, new chain key). */
	int (*kdf_root)(uint8_t rk_out[RATCHET_KEY_LEN], uint8_t ck_out[RATCHET_KEY_LEN],
	    const uint8_t rk[RATCHET_KEY_LEN], const uint8_t dh[DH_SHARED_LEN]);
	/* KEM ratchet step (PQ sessions): (rk, DH output, KEM shared secret) -> (new rk, new
	 * chain key). NULL for a suite without the KEM ratchet. */
	int (*kdf_root_pq)(uint8_t rk_out[RATCHET_KEY_LEN], uint8_t ck_out[RATCHET_KEY_LEN],
	    const uint8_t rk[RATCHET_KEY_LEN], const uint8_t dh[DH_SHARED_LEN],
	    const uint8_t ss[MLKEM768_SS_LEN]);
	/* Symmetric step: ck -> (next ck, message-key seed). */
	int (*kdf_chain)(uint8_t ck_out[RATCHET_KEY_LEN], uint8_t mk[RATCHET_KEY_LEN],
	    const uint8_t ck[RATCHET_KEY_LEN]);

	/* Appends the whole message (header, ciphertext, authenticator) to out. */
	int (*seal)(struct buf *out, const uint8_t mk[RATCHET_KEY_LEN],
	    const struct ratchet_header *h, const struct ratchet_ad *ad,
	    const uint8_t *pt, size_t pt_len);
	/* Decodes the header of untrusted message bytes; checks version and key encodings. */
	int (*parse_header)(struct ratchet_header *h, const uint8_t *msg, size_t len);
	/* Authenticates msg (as parsed into h) under mk and ad, then appends the plaintext.
	 * Returns 0 only after authentication succeeded (mind empty plaintexts: a buf_reserve
	 * of 0 bytes may return NULL without any error). */
	int (*open)(struct buf *pt, const uint8_t mk[RATCHET_KEY_LEN],
	    const struct ratchet_header *h, const struct ratchet_ad *ad,
	    const uint8_t *msg, size_t len);

	/* Prekey (session-initiating) message: info + an inner ratchet message. */
	int (*prekey_wrap)(struct buf *out, const struct x3dh_init_info *info,
	    const uint8_t *msg, size_t len);
	/* *msg borrows from in. */
	int (*prekey_parse)(struct x3dh_init_info *info, const uint8_t **msg, size_t *msg_len,
	    const uint8_t *in, size_t len);
};

/* Opaque; lives in secure memory. */
struct ratchet;

/* local_ident/remote_ident are the identity public keys in the suite's encoding (bound into
 * every message). max_skip 0 means RATCHET_MAX_SKIP_DEFAULT. rk is SECRET. */
int ratchet_init_alice(struct ratchet **out, const struct ratchet_suite *s,
    const uint8_t rk[static RATCHET_KEY_LEN], const uint8_t bob_ratchet_pub[static DH_PUBLIC_LEN],
    const uint8_t *local_ident, size_t local_len, const uint8_t *remote_ident, size_t remote_len,
    uint32_t max_skip) SOTTO_MUST_CHECK;
int ratchet_init_bob(struct ratchet **out, const struct ratchet_suite *s,
    const uint8_t rk[static RATCHET_KEY_LEN], const struct x3dh_keypair *spk,
    const uint8_t *local_ident, size_t local_len, const uint8_t *remote_ident, size_t remote_len,
    uint32_t max_skip) SOTTO_MUST_CHECK;
/* Turns a freshly initialised ratchet into a PQ one (docs/PROTOCOL.md 4.4): every DH
 * ratchet step then also carries a KEM step, and messages without the KEM part are
 * refused. Alice gets her first KEM key pair here. SOTTO_ERR_UNSUPPORTED for a suite
 * without kdf_root_pq, SOTTO_ERR_STATE once a message was sent or received. */
int ratchet_enable_kem(struct ratchet *r) SOTTO_MUST_CHECK;
/* 1 for a PQ ratchet. */
int ratchet_is_pq(const struct ratchet *r);
void ratchet_free(struct ratchet *r);
int ratchet_clone(struct ratchet **out, const struct ratchet *r) SOTTO_MUST_CHECK;

/* Appends one message to out. SOTTO_ERR_STATE if this side cannot send yet (Bob before his
 * first message from Alice). */
int ratchet_encrypt(struct ratchet *r, struct buf *out, const uint8_t *pt, size_t len) SOTTO_MUST_CHECK;
/* Appends the plaintext to pt. On any error the state and pt are unchanged. Errors:
 * SOTTO_ERR_DECRYPT (authentication failed), SOTTO_ERR_REPLAY (key already used or
 * deleted), SOTTO_ERR_TOO_MANY_SKIPPED, parse errors from the suite. */
int ratchet_decrypt(struct ratchet *r, struct buf *pt, const uint8_t *msg, size_t len) SOTTO_MUST_CHECK;

/* Serialized state is SECRET. */
int ratchet_serialize(const struct ratchet *r, struct buf *out) SOTTO_MUST_CHECK;
/* The number of bytes ratchet_serialize writes. */
size_t ratchet_serialized_len(const struct ratchet *r);
int ratchet_deserialize(struct ratchet **out, const struct ratchet_suite *s,
    const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

const struct ratchet_suite *ratchet_suite_of(const struct ratchet *r);
size_t ratchet_skipped_count(const struct ratchet *r);
uint32_t ratchet_max_skip(const struct ratchet *r);
/* 1 once this side has received at least one message. */
int ratchet_has_received(const struct ratchet *r);
const uint8_t *ratchet_remote_ident(const struct ratchet *r, size_t *len);
const uint8_t *ratchet_local_ident(const struct ratchet *r, size_t *len);

#endif
