/*
 * Message framing (RFC 9420 section 6): FramedContent, its authentication data and
 * AuthenticatedContent, read and written.
 *
 *   struct { opaque group_id<V>; uint64 epoch; Sender sender; opaque authenticated_data<V>;
 *            ContentType content_type;
 *            select: application(1) opaque application_data<V>; proposal(2) Proposal;
 *                    commit(3) Commit; } FramedContent;
 *   Sender = { uint8 sender_type; member(1): uint32 leaf_index; external(2): uint32
 *              sender_index; new_member_proposal(3), new_member_commit(4): nothing }
 *   struct { opaque signature<V>; commit: opaque confirmation_tag<V>; } FramedContentAuthData;
 *   struct { WireFormat wire_format; FramedContent content; FramedContentAuthData auth; }
 *       AuthenticatedContent;
 *
 * Pointers borrow from the input. Not secret (application data is plaintext here, owned
 * by the caller).
 */
#ifndef SOTTO_MLS_FRAMING_H
#define SOTTO_MLS_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"

#define MLS_WIRE_PUBLIC_MESSAGE 1
#define MLS_WIRE_PRIVATE_MESSAGE 2
#define MLS_WIRE_WELCOME 3
#define MLS_WIRE_GROUP_INFO 4
#define MLS_WIRE_KEY_PACKAGE 5

#define MLS_SENDER_MEMBER 1
#define MLS_SENDER_EXTERNAL 2
#define MLS_SENDER_NEW_MEMBER_PROPOSAL 3
#define MLS_SENDER_NEW_MEMBER_COMMIT 4

#define MLS_CONTENT_APPLICATION 1
#define MLS_CONTENT_PROPOSAL 2
#define MLS_CONTENT_COMMIT 3

struct mls_framed_content {
	const uint8_t *group_id;
	size_t group_id_len;
	uint64_t epoch;
	uint8_t sender_type;
	uint32_t sender_index;        /* member and external senders */
	const uint8_t *authenticated_data;
	size_t authenticated_data_len;
	uint8_t content_type;
	const uint8_t *body;          /* application: the data; else the encoded struct */
	size_t body_len;
};

struct mls_auth_data {
	const uint8_t *signature;
	size_t signature_len;
	const uint8_t *confirmation_tag;   /* commit only */
	size_t confirmation_tag_len;
};

struct mls_authenticated_content {
	uint16_t wire_format;
	struct mls_framed_content content;
	struct mls_auth_data auth;
};

/* The body of a content type, as in FramedContent and PrivateMessageContent: checked as
 * a Proposal or Commit (mls/proposal.h), or an opaque<V> of application data. */
void mls_content_body_read(struct cur *c, uint8_t content_type, const uint8_t **body, size_t *len);
void mls_content_body_write(struct buf *b, uint8_t content_type, const uint8_t *body, size_t len);

void mls_framed_content_read(struct cur *c, struct mls_framed_content *fc);
void mls_framed_content_write(struct buf *b, const struct mls_framed_content *fc);
void mls_auth_data_read(struct cur *c, uint8_t content_type, struct mls_auth_data *a);
void mls_auth_data_write(struct buf *b, uint8_t content_type, const struct mls_auth_data *a);
void mls_authenticated_content_read(struct cur *c, struct mls_authenticated_content *ac);
void mls_authenticated_content_write(struct buf *b, const struct mls_authenticated_content *ac);

#endif
