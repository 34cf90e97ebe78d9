/*
 * The blob store's requests (docs/PROTOCOL-wire.md section 4, 0x10..0x14): an upload in
 * chunks that a new connection continues (BLOB_BEGIN, BLOB_CHUNK, BLOB_COMMIT), a download
 * in ranges (BLOB_GET), and a recipient's "fetched" (BLOB_DONE). Blobs are ciphertext the
 * server never decrypts, named by the SHA-256 of their bytes.
 */
#ifndef SOTTO_WIRE_PROTO_BLOB_H
#define SOTTO_WIRE_PROTO_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"

#define PROTO_BLOB_UPLOAD_ID_LEN 16             /* chosen by the client */
#define PROTO_BLOB_HASH_LEN 32                  /* SHA-256 of the ciphertext */
#define PROTO_BLOB_CHUNK_MAX (64u * 1024)       /* bytes of one BLOB_CHUNK or BLOB_GET */

struct proto_blob_begin {
	uint8_t upload[PROTO_BLOB_UPLOAD_ID_LEN];
	uint64_t size;                          /* the whole blob, as padded by the client */
};

struct proto_blob_chunk {
	uint8_t upload[PROTO_BLOB_UPLOAD_ID_LEN];
	uint64_t offset;                        /* where data goes: the bytes stored so far */
	const uint8_t *data;                    /* borrowed, 1..PROTO_BLOB_CHUNK_MAX bytes */
	size_t len;
};

struct proto_blob_commit {
	uint8_t upload[PROTO_BLOB_UPLOAD_ID_LEN];
	uint8_t hash[PROTO_BLOB_HASH_LEN];
	uint16_t recipients;                    /* BLOB_DONEs after which it goes; 0: expiry only */
};

struct proto_blob_get {
	uint8_t hash[PROTO_BLOB_HASH_LEN];
	uint64_t offset;
	uint32_t length;                        /* 1..PROTO_BLOB_CHUNK_MAX */
};

struct proto_blob_ref {                         /* BLOB_DONE */
	uint8_t hash[PROTO_BLOB_HASH_LEN];
};

/* Results: BLOB_BEGIN and BLOB_CHUNK the offset stored, BLOB_COMMIT the expiry, BLOB_GET
 * the blob's size and the bytes at the offset asked for. */
struct proto_blob_result {
	uint64_t value;                         /* offset, expiry (unix seconds) or size */
	const uint8_t *data;                    /* BLOB_GET: borrowed */
	size_t len;
};

struct proto_msg;
/* proto.c's codec for the blob types: 1 if m->type is one of them (r set), else 0. */
int proto_blob_encode(const struct proto_msg *m, struct buf *b, int *r);
int proto_blob_decode(struct cur *c, struct proto_msg *m);
int proto_blob_encode_result(const struct proto_msg *m, struct buf *b, int *r);
int proto_blob_decode_result(struct cur *c, struct proto_msg *m);

#endif
