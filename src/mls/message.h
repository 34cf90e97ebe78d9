/*
 * MLSMessage, PublicMessage and PrivateMessage (RFC 9420 sections 6, 6.1, 6.2, 6.3):
 * signing and verifying content, the membership tag, and the encryption of content and
 * sender data under the secret tree, with zero padding.
 *
 *   struct { ProtocolVersion version = mls10; WireFormat wire_format;
 *            select: public(1) PublicMessage; private(2) PrivateMessage;
 *                    key_package(5) KeyPackage; ... } MLSMessage;
 *   PublicMessage  = { FramedContent content; FramedContentAuthData auth;
 *                      member sender: opaque membership_tag<V>; }
 *   PrivateMessage = { opaque group_id<V>; uint64 epoch; ContentType content_type;
 *                      opaque authenticated_data<V>; opaque encrypted_sender_data<V>;
 *                      opaque ciphertext<V>; }
 *   FramedContentTBS = { version; wire_format; FramedContent content;
 *                        member or new_member_commit sender: GroupContext context; }
 *   signature      = SignWithLabel(sig_key, "FramedContentTBS", FramedContentTBS)
 *   membership_tag = MAC(membership_key, FramedContentTBS || FramedContentAuthData)
 *   PrivateMessageContent = { body by content type; FramedContentAuthData auth;
 *                             zero padding }, sealed with the sender's ratchet key and
 *                             nonce XOR reuse_guard, aad PrivateContentAAD = { group_id;
 *                             epoch; content_type; authenticated_data }
 *   SenderData = { uint32 leaf_index; uint32 generation; opaque reuse_guard[4]; }, sealed
 *                with mls_sender_data_key() over the ciphertext, aad { group_id; epoch;
 *                content_type }
 *
 */
#ifndef SOTTO_MLS_MESSAGE_H
#define SOTTO_MLS_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "sotto/error.h"
#include "mls/framing.h"
#include "mls/group_context.h"
#include "mls/leaf_node.h"
#include "mls/secret_tree.h"
#include "mls/suite.h"
#include "mls/welcome.h"

/* A PrivateMessageContent is padded with zeros to a multiple of this many bytes, so that
 * lengths reveal less about what was said. */
#define MLS_PADDING_BLOCK 32
#define MLS_REUSE_GUARD_LEN 4
#define MLS_SENDER_DATA_LEN (4 + 4 + MLS_REUSE_GUARD_LEN)

/* What protecting and unprotecting need of the current epoch; all caller-owned.
 * membership_key and sender_data_secret are SECRET; the tree holds the secret tree. */
struct mls_epoch_keys {
	struct mls_group_context gc;        /* decoded ... */
	const uint8_t *gc_bytes;            /* ... and encoded */
	size_t gc_len;
	const uint8_t *membership_key;
	const uint8_t *sender_data_secret;
	struct mls_secret_tree *tree;
};

struct mls_message {
	uint16_t wire_format;
	/* public: the content as AuthenticatedContent (wire_format public) and the tag */
	struct mls_authenticated_content pub;
	const uint8_t *membership_tag;
	size_t membership_tag_len;
	/* private */
	const uint8_t *group_id;
	size_t group_id_len;
	uint64_t epoch;
	uint8_t content_type;
	const uint8_t *authenticated_data;
	size_t authenticated_data_len;
	const uint8_t *encrypted_sender_data;
	size_t encrypted_sender_data_len;
	const uint8_t *ciphertext;
	size_t ciphertext_len;
	/* key_package, welcome, group_info */
	struct mls_key_package key_package;
	struct mls_welcome welcome;
	struct mls_group_info group_info;
};

/* Reads one MLSMessage (pointers borrow from the input). Fails the cursor with
 * SOTTO_ERR_BAD_VERSION or a parse error. */
void mls_message_read(struct cur *c, struct mls_message *m);
/* Writes a read public, private, Welcome or GroupInfo message back from its fields
 * (SOTTO_ERR_UNSUPPORTED for a key package, kept as read). */
int mls_message_write(struct buf *b, const struct mls_message *m) SOTTO_MUST_CHECK;

/* The signature of content sent as wire_format, by sec (libsodium's 64-byte Ed25519
 * secret key, SECRET). */
int mls_content_sign(uint8_t sig[static MLS_SIG_LEN], const uint8_t sec[static 64],
    uint16_t wire_format, const struct mls_framed_content *fc, const struct mls_epoch_keys *ek) SOTTO_MUST_CHECK;
/* SOTTO_ERR_BAD_SIGNATURE unless ac's signature is pub's over its FramedContentTBS. */
int mls_content_verify(const struct mls_authenticated_content *ac,
    const uint8_t pub[static MLS_SIG_PUBLIC_LEN], const struct mls_epoch_keys *ek) SOTTO_MUST_CHECK;

/* Writes ac (signed, wire_format public) as an MLSMessage with its membership tag. */
int mls_public_message_write(struct buf *out, const struct mls_authenticated_content *ac,
    const struct mls_epoch_keys *ek) SOTTO_MUST_CHECK;
/* For a read PublicMessage: the group and epoch are this epoch's (SOTTO_ERR_STATE), the
 * content is not application data (SOTTO_ERR_PROTOCOL: Sotto always encrypts it), and a
 * member's membership tag verifies, compared in constant time (SOTTO_ERR_AUTH). The
 * signature is checked apart, with mls_content_verify(). */
int mls_public_message_check(const struct mls_message *m, const struct mls_epoch_keys *ek) SOTTO_MUST_CHECK;

/* Encrypts ac (signed, wire_format private, sender a member) as an MLSMessage with the
 * sender's next ratchet key. */
int mls_private_message_write(struct buf *out, const struct mls_authenticated_content *ac,
    const struct mls_epoch_keys *ek) SOTTO_MUST_CHECK;
/* Decrypts a read PrivateMessage into ac, whose content and auth point into plain (the
 * caller's, growable; it then holds the plaintext: buf_wipe_free it) and into m.
 * SOTTO_ERR_STATE for another group or epoch, SOTTO_ERR_DECRYPT when either AEAD fails,
 * SOTTO_ERR_MALFORMED for bad sender data or non-zero padding, the ratchet's errors for
 * a generation already used or too far ahead. */
int mls_private_message_read(const struct mls_message *m, const struct mls_epoch_keys *ek,
    struct buf *plain, struct mls_authenticated_content *ac) SOTTO_MUST_CHECK;

/* PrivateMessageContent from decrypted bytes: the body and auth into fc and auth, then
 * the rest, which must be zero padding (else the cursor fails with SOTTO_ERR_MALFORMED). */
void mls_private_content_read(struct cur *c, uint8_t content_type, struct mls_framed_content *fc,
    struct mls_auth_data *auth);

#endif
