/*
 * LeafNode, Credential and KeyPackage as they are read off the wire (RFC 9420 sections
 * 5.3, 7.2 and 10). Reading checks structure and suite-3 sizes; the semantic checks a
 * member must make (signatures, lifetimes, capabilities against the group) come with
 * the code that adds leaves to a tree.
 *
 *   struct {
 *       HPKEPublicKey encryption_key;       opaque<V>, 32 bytes in suite 3
 *       SignaturePublicKey signature_key;   opaque<V>, 32 bytes (Ed25519)
 *       Credential credential;              uint16 type; basic(1): opaque identity<V>;
 *                                           x509(2): opaque certificates<V><V>
 *       Capabilities capabilities;          five uint16 lists: versions, cipher_suites,
 *                                           extensions, proposals, credentials
 *       LeafNodeSource leaf_node_source;    uint8: key_package(1) + Lifetime (2 x uint64),
 *                                           update(2), commit(3) + opaque parent_hash<V>
 *       Extension extensions<V>;
 *       opaque signature<V>;
 *   } LeafNode;
 *
 *   struct { ProtocolVersion version; CipherSuite cipher_suite; HPKEPublicKey init_key;
 *            LeafNode leaf_node; Extension extensions<V>; opaque signature<V>; } KeyPackage;
 *
 * Every pointer borrows from the input. Not secret.
 */
#ifndef SOTTO_MLS_LEAF_NODE_H
#define SOTTO_MLS_LEAF_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "mls/suite.h"

#define MLS_CREDENTIAL_BASIC 1
#define MLS_CREDENTIAL_X509 2
#define MLS_LEAF_SOURCE_KEY_PACKAGE 1
#define MLS_LEAF_SOURCE_UPDATE 2
#define MLS_LEAF_SOURCE_COMMIT 3

struct mls_leaf_node {
	const uint8_t *encryption_key;       /* MLS_KEM_PUBLIC_LEN bytes */
	const uint8_t *signature_key;        /* MLS_SIG_PUBLIC_LEN bytes */
	uint16_t credential_type;
	const uint8_t *credential;           /* basic: the identity; x509: the encoded chain */
	size_t credential_len;
	const uint8_t *capabilities;         /* the encoded Capabilities */
	size_t capabilities_len;
	uint8_t source;
	uint64_t not_before, not_after;      /* key_package */
	const uint8_t *parent_hash;          /* commit */
	size_t parent_hash_len;
	const uint8_t *extensions;           /* the vector's contents */
	size_t extensions_len;
	const uint8_t *signature;
	size_t signature_len;
	const uint8_t *tbs_fields;           /* everything before the signature, encoded */
	size_t tbs_fields_len;
	const uint8_t *encoding;             /* the whole LeafNode */
	size_t encoding_len;
};

struct mls_key_package {
	const uint8_t *init_key;             /* MLS_KEM_PUBLIC_LEN bytes */
	struct mls_leaf_node leaf;
	const uint8_t *extensions;
	size_t extensions_len;
	const uint8_t *signature;
	size_t signature_len;
	const uint8_t *tbs;                  /* KeyPackageTBS: everything before the signature */
	size_t tbs_len;
	const uint8_t *encoding;             /* the whole KeyPackage, for its reference */
	size_t encoding_len;
};

/* Fail the cursor (SOTTO_ERR_MALFORMED, SOTTO_ERR_UNSUPPORTED for another version or
 * suite, or the cursor's own errors) on anything not well-formed. */
void mls_leaf_node_read(struct cur *c, struct mls_leaf_node *ln);
/* Writes the fields before the signature (LeafNodeTBS without its group part), and the
 * whole LeafNode, from ln's fields. */
void mls_leaf_node_write_fields(struct buf *b, const struct mls_leaf_node *ln);
void mls_leaf_node_write(struct buf *b, const struct mls_leaf_node *ln);
void mls_key_package_read(struct cur *c, struct mls_key_package *kp);

#define MLS_CAPS_VERSIONS 0
#define MLS_CAPS_CIPHER_SUITES 1
#define MLS_CAPS_EXTENSIONS 2
#define MLS_CAPS_PROPOSALS 3
#define MLS_CAPS_CREDENTIALS 4
/* 1 if the encoded Capabilities (as a read LeafNode keeps them) list value in the list
 * given (MLS_CAPS_*), else 0. */
int mls_capabilities_list(const uint8_t *caps, size_t len, int list, uint16_t value);

#endif
