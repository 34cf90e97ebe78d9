/*
 * The TLS presentation language as RFC 9420 section 2.1 uses it: big-endian integers and
 * variable-size vectors whose length is a variable-length integer (section 2.1.2). A length
 * takes 1, 2 or 4 bytes, its top two bits saying which (00, 01, 10); 11 is invalid. Sotto
 * writes and accepts only the shortest encoding of each length, so that every value has one
 * encoding (signatures and hashes are computed over encodings).
 *
 * Reading goes through the bounds-checked cursor (base/cursor.h); its errors are sticky, so
 * a decoder reads every field and checks once with cur_finish(). Fixed-width integers are
 * cur_u8/u16/u32/u64 and buf_u8/.../buf_u64 directly.
 */
#ifndef SOTTO_MLS_TLS_CODEC_H
#define SOTTO_MLS_TLS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"

#define MLS_VARINT_MAX 0x3fffffffu   /* 2^30 - 1 */

/* Bytes the varint encoding of v takes (1, 2 or 4), or 0 if v > MLS_VARINT_MAX. */
size_t mls_varint_len(uint64_t v);

/* A varint length. Fails the cursor with SOTTO_ERR_MALFORMED on the prefix 11 or an
 * encoding longer than necessary. */
uint32_t mls_cur_varint(struct cur *c);
/* opaque<V>: the length, checked against max before anything else (SOTTO_ERR_TOO_LARGE),
 * then the bytes, borrowed. *n receives the length (0 on error); returns NULL on error and
 * a non-NULL pointer (possibly to zero bytes) on success. */
const uint8_t *mls_cur_opaque(struct cur *c, size_t max, size_t *n);
/* An opaque<V> that must hold exactly len bytes (a key or hash of fixed size): fails the
 * cursor with SOTTO_ERR_MALFORMED on another length. */
const uint8_t *mls_cur_opaque_fixed(struct cur *c, size_t len);
/* A vector<V> of structs: the length as for mls_cur_opaque, then a sub-cursor over exactly
 * those bytes for the caller to read the elements from (check it with cur_finish). */
void mls_cur_vector(struct cur *c, size_t max, struct cur *elems);

/* Writes v as a varint (SOTTO_ERR_TOO_LARGE on the buffer if v > MLS_VARINT_MAX). */
void mls_buf_varint(struct buf *b, uint64_t v);
/* opaque<V> of n bytes. */
void mls_buf_opaque(struct buf *b, const void *p, size_t n);

#endif
