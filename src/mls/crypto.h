/*
 * The cryptographic functions RFC 9420 builds everything from (section 5 and 8), for
 * cipher suite 3: Hash = SHA-256, KDF = HKDF-SHA256, Nh = 32, AEAD ChaCha20-Poly1305,
 * signatures Ed25519, HPKE as in mls/hpke.h. Labels are given without the "MLS 1.0 "
 * prefix, which these functions add; at most MLS_LABEL_MAX bytes.
 *
 * Every output named secret or out below is SECRET unless said otherwise.
 */
#ifndef SOTTO_MLS_CRYPTO_H
#define SOTTO_MLS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "mls/suite.h"

/* Cap on a context or content that the labeled functions serialise. */
#define MLS_LABELED_INPUT_MAX (1024 * 1024)

void mls_hash(uint8_t out[static MLS_HASH_LEN], const uint8_t *p, size_t len);
/* KDF.Extract(salt, ikm); salt NULL/0 means Nh zero bytes. */
void mls_kdf_extract(uint8_t prk[static MLS_HASH_LEN], const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len);
/* MAC(key, msg) = HMAC-SHA256 (used for confirmation tags and membership tags). */
void mls_mac(uint8_t out[static MLS_HASH_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t len);

/* RefHash(label, value) = Hash(struct { opaque label<V>; opaque value<V>; }); the label is
 * used as given (e.g. "MLS 1.0 KeyPackage Reference"). Not secret. */
int mls_ref_hash(uint8_t out[static MLS_HASH_LEN], const char *label, const uint8_t *value,
    size_t len) SOTTO_MUST_CHECK;

/* ExpandWithLabel(secret, label, context, length) = KDF.Expand(secret, KDFLabel, length),
 * KDFLabel = struct { uint16 length; opaque label<V>; opaque context<V>; }. */
int mls_expand_with_label(uint8_t *out, size_t out_len, const uint8_t secret[static MLS_HASH_LEN],
    const char *label, const uint8_t *context, size_t context_len) SOTTO_MUST_CHECK;
/* The same with a label of bytes (the exporter's label is the application's bytes). */
int mls_expand_with_label_raw(uint8_t *out, size_t out_len, const uint8_t secret[static MLS_HASH_LEN],
    const uint8_t *label, size_t label_len, const uint8_t *context, size_t context_len) SOTTO_MUST_CHECK;
/* DeriveSecret(secret, label) = ExpandWithLabel(secret, label, "", Nh). */
int mls_derive_secret(uint8_t out[static MLS_HASH_LEN], const uint8_t secret[static MLS_HASH_LEN],
    const char *label) SOTTO_MUST_CHECK;
/* DeriveTreeSecret(secret, label, generation, length): context is uint32 generation. */
int mls_derive_tree_secret(uint8_t *out, size_t out_len, const uint8_t secret[static MLS_HASH_LEN],
    const char *label, uint32_t generation) SOTTO_MUST_CHECK;

/* SignWithLabel / VerifyWithLabel: Ed25519 over struct { opaque label<V>; opaque
 * content<V>; }. sec is libsodium's 64-byte secret key (seed || public), SECRET.
 * Verify returns SOTTO_ERR_BAD_SIGNATURE for a wrong signature. */
int mls_sign_with_label(uint8_t sig[static MLS_SIG_LEN], const uint8_t sec[static 64],
    const char *label, const uint8_t *content, size_t len) SOTTO_MUST_CHECK;
int mls_verify_with_label(const uint8_t sig[static MLS_SIG_LEN],
    const uint8_t pub[static MLS_SIG_PUBLIC_LEN], const char *label, const uint8_t *content,
    size_t len) SOTTO_MUST_CHECK;

/* EncryptWithLabel / DecryptWithLabel: HPKE SealBase/OpenBase with info = struct { opaque
 * label<V>; opaque context<V>; } and empty aad. ct holds pt_len + MLS_AEAD_TAG_LEN bytes.
 * Decrypt writes ct_len - MLS_AEAD_TAG_LEN bytes, or fails with SOTTO_ERR_DECRYPT (pt
 * zeroed), SOTTO_ERR_CRYPTO (a small-order kem_output) or SOTTO_ERR_TRUNCATED. */
int mls_encrypt_with_label(uint8_t kem_output[static MLS_KEM_PUBLIC_LEN], uint8_t *ct,
    const uint8_t pub[static MLS_KEM_PUBLIC_LEN], const char *label, const uint8_t *context,
    size_t context_len, const uint8_t *pt, size_t pt_len) SOTTO_MUST_CHECK;
/* EncryptWithLabel in two steps, for many recipients of one (label, context): the
 * EncryptContext's HPKE info hash once, then each encryption from it. */
int mls_encrypt_context_hash(uint8_t out[static MLS_HASH_LEN], const char *label,
    const uint8_t *context, size_t context_len) SOTTO_MUST_CHECK;
int mls_encrypt_with_label_hashed(uint8_t kem_output[static MLS_KEM_PUBLIC_LEN], uint8_t *ct,
    const uint8_t pub[static MLS_KEM_PUBLIC_LEN], const uint8_t context_hash[static MLS_HASH_LEN],
    const uint8_t *pt, size_t pt_len) SOTTO_MUST_CHECK;
int mls_decrypt_with_label(uint8_t *pt, const uint8_t sec[static MLS_KEM_SECRET_LEN],
    const char *label, const uint8_t *context, size_t context_len,
    const uint8_t kem_output[static MLS_KEM_PUBLIC_LEN], const uint8_t *ct, size_t ct_len) SOTTO_MUST_CHECK;

#endif
