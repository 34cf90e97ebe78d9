/*
 * GroupContext (RFC 9420 section 8.1): the summary of a group's state that every epoch's
 * key schedule, signature and transcript binds to.
 *
 *   struct {
 *       ProtocolVersion version = mls10;    uint16
 *       CipherSuite cipher_suite;           uint16
 *       opaque group_id<V>;
 *       uint64 epoch;
 *       opaque tree_hash<V>;
 *       opaque confirmed_transcript_hash<V>;
 *       Extension extensions<V>;            struct { uint16 type; opaque data<V>; }
 *   } GroupContext;
 *
 * Not secret.
 */
#ifndef SOTTO_MLS_GROUP_CONTEXT_H
#define SOTTO_MLS_GROUP_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "sotto/error.h"

#define MLS_GROUP_ID_MAX 256
/* All extensions of a GroupContext or GroupInfo together, encoded. */
#define MLS_EXTENSIONS_MAX (64 * 1024)

/* Byte fields point into the caller's memory (or, after read, into the parsed input).
 * extensions holds the encoded elements of the extensions vector, without its length. */
struct mls_group_context {
	uint16_t version;
	uint16_t cipher_suite;
	const uint8_t *group_id;
	size_t group_id_len;
	uint64_t epoch;
	const uint8_t *tree_hash;
	size_t tree_hash_len;
	const uint8_t *confirmed_transcript_hash;
	size_t confirmed_transcript_hash_len;
	const uint8_t *extensions;
	size_t extensions_len;
};

void mls_group_context_write(struct buf *b, const struct mls_group_context *gc);
/* Reads one GroupContext from c (further bytes may follow; check c yourself). Fails the
 * cursor on another version or suite (SOTTO_ERR_UNSUPPORTED), a tree or transcript hash of
 * the wrong length, an oversize field, or extensions that are not well-formed. */
void mls_group_context_read(struct cur *c, struct mls_group_context *gc);

/* Checks that an extensions vector's contents parse as Extension structs, each type at
 * most once (RFC 9420 section 13.4). 0 or SOTTO_ERR_MALFORMED. */
int mls_extensions_check(const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

#endif
