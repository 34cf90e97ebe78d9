/*
 * Typed payloads inside the ratchet (the plaintext of a session message):
 *   u8   version (CONTENT_VERSION)
 *   u8   type (enum content_type)
 *   16   message id (also the client message id the server deduplicates by)
 *   u64  sequence number: per conversation and direction, from 1, for gap detection
 *   u64  sender's clock, unix milliseconds
 *   u32  the conversation's expiry timer at the sender, seconds (0 = off)
 * then, by type:
 *   TEXT, MAIL: u32 length, bytes (1..CONTENT_BODY_MAX)
 *   RECEIPT:    u8 kind (1 delivered, 2 read), u16 n (1..CONTENT_RECEIPT_MAX), n ids
 *   TIMER:      nothing (the timer field is the new setting)
 *   FILE:       u64 size (0..FILE_SIZE_MAX), 32 blob hash, 32 key, 32 plaintext digest,
 *               u16 name length (1..CONTENT_FILE_NAME_MAX), name, u16 media type length
 *               (0..CONTENT_FILE_TYPE_MAX), media type, u32 caption length
 *               (0..CONTENT_BODY_MAX), caption (docs/PROTOCOL.md section 15)
 *   TOKEN:      nothing (a token field follows: the sender's delivery token after a rotation)
 * then optionally, once, last, the sender's delivery token (docs/PROTOCOL.md 7.0):
 *   u8 CONTENT_FIELD_TOKEN, 32 token
 * Big-endian; decoding rejects unknown types, out-of-range fields, a TOKEN without its
 * field, and any other trailing bytes.
 */
#ifndef SOTTO_CLIENT_CONTENT_H
#define SOTTO_CLIENT_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client/file_crypt.h"
#include "sotto/error.h"
#include "sotto/file.h"
#include "sotto/limits.h"

#define CONTENT_VERSION 1
#define CONTENT_ID_LEN SOTTO_ID_LEN
#define CONTENT_BODY_MAX SOTTO_TEXT_MAX
#define CONTENT_RECEIPT_MAX SOTTO_RECEIPT_IDS_MAX
#define CONTENT_EXPIRY_MAX SOTTO_EXPIRY_MAX
#define CONTENT_FILE_NAME_MAX SOTTO_FILE_NAME_MAX /* no '/', no control characters, not . or .. */
#define CONTENT_FILE_TYPE_MAX SOTTO_FILE_TYPE_MAX /* bytes of printable ASCII without spaces */
#define CONTENT_HEADER_LEN (1 + 1 + CONTENT_ID_LEN + 8 + 8 + 4)
#define CONTENT_TOKEN_LEN 32            /* = PROTO_TOKEN_LEN */
/* The longest FILE content without a token field. */
#define CONTENT_FILE_MAX (CONTENT_HEADER_LEN + 8 + FILE_HASH_LEN + FILE_KEY_LEN + \
    FILE_DIGEST_LEN + 2 + CONTENT_FILE_NAME_MAX + 2 + CONTENT_FILE_TYPE_MAX + 4 + \
    CONTENT_BODY_MAX)
#define CONTENT_FIELD_TOKEN 0x01
#define CONTENT_TOKEN_FIELD_LEN (1 + CONTENT_TOKEN_LEN)

enum content_type {
	CONTENT_TEXT = 1,
	CONTENT_MAIL = 2,
	CONTENT_RECEIPT = 3,
	CONTENT_TIMER = 4,
	CONTENT_FILE = 5,
	CONTENT_TOKEN = 6,              /* only the token field: a rotated delivery token */
};

enum content_receipt { CONTENT_DELIVERED = 1, CONTENT_READ = 2 };

struct content {
	uint8_t type;
	uint8_t id[CONTENT_ID_LEN];
	uint64_t seq;
	uint64_t sent_ms;
	uint32_t expiry;
	const uint8_t *body;            /* TEXT, MAIL, FILE (its caption); borrowed (secret) */
	size_t body_len;
	uint8_t receipt_kind;           /* RECEIPT */
	size_t n_ids;
	const uint8_t (*ids)[CONTENT_ID_LEN];   /* RECEIPT; borrowed */
	uint64_t file_size;             /* FILE: plaintext bytes; the rest borrowed */
	const uint8_t *file_hash;       /* FILE_HASH_LEN: the blob's name in the store */
	const uint8_t *file_key;        /* FILE_KEY_LEN (secret) */
	const uint8_t *file_digest;     /* FILE_DIGEST_LEN: SHA-256 of the plaintext */
	const uint8_t *file_name;
	size_t file_name_len;
	const uint8_t *file_type;       /* media type, e.g. "image/png"; may be empty */
	size_t file_type_len;
	int has_token;                  /* 1: the token field is present (always for TOKEN) */
	uint8_t token[CONTENT_TOKEN_LEN];       /* the sender's delivery token (secret) */
};

int content_encode(const struct content *c, struct buf *out) SOTTO_MUST_CHECK;
/* c borrows body and ids from p. */
int content_decode(const uint8_t *p, size_t len, struct content *c) SOTTO_MUST_CHECK;

#endif
