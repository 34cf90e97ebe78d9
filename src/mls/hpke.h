/*
 * HPKE (RFC 9180) as MLS cipher suite 3 needs it: mode_base only, KEM DHKEM(X25519,
 * HKDF-SHA256) (0x0020), KDF HKDF-SHA256 (0x0001), AEAD ChaCha20-Poly1305 (0x0003), and
 * the secret export interface. Built on libsodium's X25519 and ChaCha20-Poly1305 IETF and
 * the project's HKDF-SHA256.
 *
 * An all-zero X25519 output is rejected (RFC 9180 section 7.1.4): setup then fails with
 * SOTTO_ERR_CRYPTO, so a peer's small-order public key cannot force a known secret.
 */
#ifndef SOTTO_MLS_HPKE_H
#define SOTTO_MLS_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "mls/limits.h"
#include "mls/suite.h"

#define MLS_HPKE_ENC_LEN MLS_KEM_PUBLIC_LEN
#define MLS_HPKE_EXPORT_MAX (255 * MLS_HASH_LEN)
/* Cap on info, aad-free labeled inputs and exporter contexts that HPKE concatenates. A
 * Welcome's GroupSecrets are sealed with the whole encrypted GroupInfo (which carries the
 * ratchet tree) inside their info (RFC 9420 12.4.3.1), so the cap is a whole message and
 * its label: 64 KiB stopped Welcomes past about 280 members (bench-mls). */
#define MLS_HPKE_INPUT_MAX (MLS_MESSAGE_MAX + 2 * 4 + MLS_LABEL_MAX + 8)

/* A context of either side. key, base_nonce and exporter_secret are SECRET; seq is the
 * number of messages sealed or opened so far. */
struct mls_hpke_ctx {
	uint8_t key[MLS_AEAD_KEY_LEN];
	uint8_t base_nonce[MLS_AEAD_NONCE_LEN];
	uint8_t exporter_secret[MLS_HASH_LEN];
	uint64_t seq;
};

/* DeriveKeyPair (RFC 9180 section 7.1.3): sk is SECRET. */
int mls_hpke_derive_keypair(uint8_t pk[static MLS_KEM_PUBLIC_LEN],
    uint8_t sk[static MLS_KEM_SECRET_LEN], const uint8_t *ikm, size_t ikm_len) SOTTO_MUST_CHECK;

/* SetupBaseS with a fresh random ephemeral key: writes enc for the recipient. */
int mls_hpke_setup_base_s(struct mls_hpke_ctx *ctx, uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN], const uint8_t *info, size_t info_len) SOTTO_MUST_CHECK;
/* The key schedule's info_hash = LabeledExtract("", "info_hash", info) (RFC 9180 5.1):
 * it depends on info alone, so SetupBaseS to many recipients with the same info can
 * compute it once (a Welcome seals every GroupSecrets with the whole encrypted GroupInfo
 * in its info: hashing it per member made a Welcome O(n^2) in the group size). */
int mls_hpke_info_hash(uint8_t out[static MLS_HASH_LEN], const uint8_t *info,
    size_t info_len) SOTTO_MUST_CHECK;
/* SetupBaseS as above, from info_hash = mls_hpke_info_hash(info). */
int mls_hpke_setup_base_s_hashed(struct mls_hpke_ctx *ctx, uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN],
    const uint8_t info_hash[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;
/* SetupBaseS with the ephemeral secret key sk_e given (SECRET; it must be fresh and used
 * once). For known-answer tests and for derivations that must be reproducible. */
int mls_hpke_setup_base_s_ephemeral(struct mls_hpke_ctx *ctx,
    uint8_t enc[static MLS_HPKE_ENC_LEN], const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN],
    const uint8_t *info, size_t info_len,
    const uint8_t sk_e[static MLS_KEM_SECRET_LEN]) SOTTO_MUST_CHECK;
/* SetupBaseR: sk_r is SECRET. */
int mls_hpke_setup_base_r(struct mls_hpke_ctx *ctx, const uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t sk_r[static MLS_KEM_SECRET_LEN], const uint8_t *info, size_t info_len) SOTTO_MUST_CHECK;

/* Seal writes pt_len + MLS_AEAD_TAG_LEN bytes to ct; open writes ct_len - MLS_AEAD_TAG_LEN
 * bytes to pt, or SOTTO_ERR_DECRYPT (pt zeroed; seq unchanged) if the tag does not verify.
 * SOTTO_ERR_LIMIT once the sequence number is exhausted. */
int mls_hpke_seal(struct mls_hpke_ctx *ctx, uint8_t *ct, const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len) SOTTO_MUST_CHECK;
int mls_hpke_open(struct mls_hpke_ctx *ctx, uint8_t *pt, const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len) SOTTO_MUST_CHECK;
/* Export (RFC 9180 section 5.3): out_len <= MLS_HPKE_EXPORT_MAX; out is SECRET. */
int mls_hpke_export(const struct mls_hpke_ctx *ctx, uint8_t *out, size_t out_len,
    const uint8_t *exporter_context, size_t context_len) SOTTO_MUST_CHECK;

void mls_hpke_ctx_wipe(struct mls_hpke_ctx *ctx);

#endif
