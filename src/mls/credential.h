/*
 * Sotto's MLS credential: a member's MLS signature key attested by its account's Ed25519
 * identity key, so that the safety numbers and key-change warnings of one-to-one
 * conversations cover groups (docs/PROTOCOL.md, "Groups"). It is a basic credential
 * (RFC 9420 section 5.3), so other MLS implementations carry it as opaque identity bytes:
 *
 *   struct {
 *       uint8 version = 1;
 *       opaque address<V>;          the account, name@domain: 1..MLS_CRED_ADDRESS_MAX
 *                                   bytes, no NUL (the client checks it is normalized)
 *       opaque identity_key<V>;     32 bytes: the account's Ed25519 identity key
 *       uint32 device_id;           the device's leaf; 1 for an account's first device
 *       opaque signature<V>;        64 bytes
 *   } SottoCredential;
 *
 *   signature = Ed25519(identity key, "Sotto MLS credential v1" || signature_key[32]
 *                       || opaque address<V> || uint32 device_id)
 *
 * signature_key is the leaf's MLS signature key (the LeafNode's signature_key): the label
 * and the key have fixed lengths and the address its own length, so the signed bytes parse
 * one way only. Each device of an account has its own signature key and device id, and so
 * its own leaf. Nothing here is secret but the identity key's private half passed to
 * mls_credential_create.
 */
#ifndef SOTTO_MLS_CREDENTIAL_H
#define SOTTO_MLS_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "sotto/error.h"
#include "sotto/limits.h"
#include "mls/leaf_node.h"
#include "mls/suite.h"

#define MLS_CRED_VERSION 1
#define MLS_CRED_ADDRESS_MAX SOTTO_ADDRESS_MAX
#define MLS_CRED_KEY_LEN 32
#define MLS_CRED_LABEL "Sotto MLS credential v1"
/* The encoded credential: version, the vector headers (1 byte for the key, 2 for the
 * address and the 64-byte signature), the fields. */
#define MLS_CRED_ENCODED_MAX (1 + 2 + MLS_CRED_ADDRESS_MAX + 1 + MLS_CRED_KEY_LEN + 4 + 2 + MLS_SIG_LEN)

/* A read credential; pointers borrow from the input. */
struct mls_sotto_credential {
	const uint8_t *address;              /* not NUL-terminated */
	size_t address_len;
	const uint8_t *identity_key;         /* MLS_CRED_KEY_LEN bytes */
	uint32_t device_id;
	const uint8_t *signature;            /* MLS_SIG_LEN bytes */
};

/* Writes the credential of the device with MLS signature key sig_pub, signed by the
 * account's identity key (identity_sk: libsodium's 64-byte Ed25519 key, SECRET; its
 * public half is the credential's identity key). */
int mls_credential_create(struct buf *out, const uint8_t identity_sk[static 64],
    const char *address, uint32_t device_id,
    const uint8_t sig_pub[static MLS_SIG_PUBLIC_LEN]) SOTTO_MUST_CHECK;
/* Reads one SottoCredential: fails the cursor (SOTTO_ERR_BAD_VERSION for another
 * version, SOTTO_ERR_MALFORMED for a field of the wrong size or an address with a NUL,
 * the cursor's own errors). */
void mls_credential_read(struct cur *c, struct mls_sotto_credential *cr);
/* The whole of p..p+len as one credential (no trailing bytes). */
int mls_credential_parse(const uint8_t *p, size_t len, struct mls_sotto_credential *cr) SOTTO_MUST_CHECK;
/* SOTTO_ERR_BAD_SIGNATURE unless cr's signature by its identity key covers sig_pub. */
int mls_credential_verify(const struct mls_sotto_credential *cr,
    const uint8_t sig_pub[static MLS_SIG_PUBLIC_LEN]) SOTTO_MUST_CHECK;
/* A leaf's credential read and verified against the leaf's signature key:
 * SOTTO_ERR_UNSUPPORTED for a credential type other than basic, the errors above. */
int mls_credential_of_leaf(const struct mls_leaf_node *ln, struct mls_sotto_credential *cr) SOTTO_MUST_CHECK;

#endif
