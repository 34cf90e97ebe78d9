/*
 * The one MLS cipher suite Sotto speaks (RFC 9420 section 17.1):
 * MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 (0x0003). Every size of the suite is
 * defined here once; the rest of src/mls/ uses these names.
 */
#ifndef SOTTO_MLS_SUITE_H
#define SOTTO_MLS_SUITE_H

#define MLS_PROTOCOL_VERSION_MLS10 0x0001
#define MLS_CIPHER_SUITE 0x0003

#define MLS_HASH_LEN 32          /* SHA-256, KDF.Nh */
#define MLS_AEAD_KEY_LEN 32      /* ChaCha20-Poly1305, AEAD.Nk */
#define MLS_AEAD_NONCE_LEN 12    /* AEAD.Nn */
#define MLS_AEAD_TAG_LEN 16
#define MLS_KEM_PUBLIC_LEN 32    /* X25519, Npk = Nenc */
#define MLS_KEM_SECRET_LEN 32    /* Nsk */
#define MLS_KEM_SHARED_LEN 32    /* Nsecret */
#define MLS_SIG_PUBLIC_LEN 32    /* Ed25519 */
#define MLS_SIG_SEED_LEN 32      /* the private key as RFC 8032 and the vectors give it */
#define MLS_SIG_LEN 64

/* "MLS 1.0 " prefixed to every label (RFC 9420 section 5.1.2, 5.1.3, 8). */
#define MLS_LABEL_PREFIX "MLS 1.0 "
/* Cap on a label as the caller passes it, so that a labeled struct fits a stack buffer. */
#define MLS_LABEL_MAX 255

#endif
