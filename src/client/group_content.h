/*
 * What Sotto puts in an MLS application message (docs/PROTOCOL.md, "Groups"):
 *   u8   version (GROUP_CONTENT_VERSION)
 *   u8   type (enum group_content_type)
 *   16   message id
 *   u64  sender's clock, unix milliseconds
 *   u32  the group's disappearing-message timer at the sender, seconds (0 = off)
 * then, by type:
 *   TEXT: u32 length, the text (1..CONTENT_BODY_MAX bytes)
 *   MAIL: u32 length, one part of a mail (1..CONTENT_BODY_MAX bytes): the bytes the 1:1
 *         MAIL content carries (mail/mail_content.h), sent by the bridge for a mail to
 *         the group's address
 *   INFO: u16 length, the group's name (0..STORE_GROUP_NAME_MAX bytes, no NUL; empty: the
 *         sender does not know it, the name stays); the timer field is the group's new
 *         timer
 *   FILE: u32 length, a FILE content (client/content.h, docs/PROTOCOL.md 15.2) whose own
 *         header fields (id, sequence number, clock, timer) are not used
 * Big-endian; decoding rejects unknown types, out-of-range fields and trailing bytes.
 */
#ifndef SOTTO_CLIENT_GROUP_CONTENT_H
#define SOTTO_CLIENT_GROUP_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client/store.h"
#include "sotto/error.h"

#define GROUP_CONTENT_VERSION 1
#define GROUP_CONTENT_HEADER_LEN (1 + 1 + STORE_MSGID_LEN + 8 + 4)

enum group_content_type {
	GROUP_CONTENT_TEXT = 1,
	GROUP_CONTENT_INFO = 2,
	GROUP_CONTENT_MAIL = 3,
	GROUP_CONTENT_FILE = 4,
};

struct group_content {
	uint8_t type;
	uint8_t id[STORE_MSGID_LEN];
	uint64_t sent_ms;
	uint32_t expiry;
	const uint8_t *body;            /* TEXT: the text; MAIL: the part; INFO: the name;
	                                   FILE: the FILE content; borrowed (secret) */
	size_t body_len;
};

int group_content_encode(const struct group_content *c, struct buf *out) SOTTO_MUST_CHECK;
/* c borrows body from p. */
int group_content_decode(const uint8_t *p, size_t len, struct group_content *c) SOTTO_MUST_CHECK;

#endif
