/*
 * Creating and checking KeyPackages (RFC 9420 sections 10, 10.1, 7.2, 7.3).
 *
 *   KeyPackageTBS = { version; cipher_suite; init_key; LeafNode leaf_node; extensions }
 *   KeyPackage    = { KeyPackageTBS; signature = SignWithLabel(., "KeyPackageTBS", TBS) }
 *
 * A KeyPackage Sotto creates has a fresh init key and a fresh leaf encryption key, a basic
 * credential, the capabilities of this implementation (mls10, suite 3, basic credentials),
 * source key_package with its lifetime, no extensions, the LeafNode signed over
 * LeafNodeTBS and the whole over KeyPackageTBS.
 */
#ifndef SOTTO_MLS_KEY_PACKAGE_H
#define SOTTO_MLS_KEY_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "mls/leaf_node.h"
#include "mls/suite.h"

/* The private keys behind a KeyPackage we created. SECRET. */
struct mls_key_package_secrets {
	uint8_t init_sec[MLS_KEM_SECRET_LEN];
	uint8_t enc_sec[MLS_KEM_SECRET_LEN];
};

/* Writes a new KeyPackage to out (the bare struct, not an MLSMessage) and its private keys
 * to ks. sig_sec is libsodium's 64-byte Ed25519 key (SECRET); identity is the basic
 * credential's (at most MLS_CREDENTIAL_MAX bytes); the lifetime is in seconds since the
 * epoch, not_before <= not_after. */
int mls_key_package_create(struct buf *out, struct mls_key_package_secrets *ks,
    const uint8_t sig_sec[static 64], const uint8_t *identity, size_t identity_len,
    uint64_t not_before, uint64_t not_after) SOTTO_MUST_CHECK;
void mls_key_package_secrets_wipe(struct mls_key_package_secrets *ks);

/* A KeyPackage read from a peer, as a member adding it checks it (10.1, 7.3): signed over
 * KeyPackageTBS by its leaf's key (SOTTO_ERR_BAD_SIGNATURE), its LeafNode signed, from a
 * key package and within its lifetime at now, and init and encryption keys apart
 * (SOTTO_ERR_PROTOCOL). */
int mls_key_package_verify(const struct mls_key_package *kp, uint64_t now) SOTTO_MUST_CHECK;

#endif
