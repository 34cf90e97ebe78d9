/*
 * Welcome, GroupInfo and GroupSecrets as read off the wire (RFC 9420 sections 12.4.3 and
 * 12.4.3.1). Reading checks structure; decrypting a Welcome and joining come with the
 * group state.
 *
 *   struct { CipherSuite cipher_suite; EncryptedGroupSecrets secrets<V>;
 *            opaque encrypted_group_info<V>; } Welcome;
 *   struct { opaque new_member<V>; HPKECiphertext encrypted_group_secrets; }
 *       EncryptedGroupSecrets;       HPKECiphertext = { opaque kem_output<V>; opaque ciphertext<V>; }
 *   struct { GroupContext group_context; Extension extensions<V>; MAC confirmation_tag;
 *            uint32 signer; opaque signature<V>; } GroupInfo;
 *   struct { opaque joiner_secret<V>; optional<PathSecret> path_secret;
 *            PreSharedKeyID psks<V>; } GroupSecrets;     PathSecret = { opaque path_secret<V>; }
 *
 * Pointers borrow from the input. GroupSecrets holds secrets: wipe its input after use.
 */
#ifndef SOTTO_MLS_WELCOME_H
#define SOTTO_MLS_WELCOME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "mls/group_context.h"

struct mls_welcome {
	uint16_t cipher_suite;
	const uint8_t *secrets;            /* the contents of the secrets vector */
	size_t secrets_len;
	size_t secrets_count;
	const uint8_t *encrypted_group_info;
	size_t encrypted_group_info_len;
};

struct mls_group_info {
	struct mls_group_context gc;
	const uint8_t *extensions;
	size_t extensions_len;
	const uint8_t *confirmation_tag;   /* MLS_HASH_LEN bytes */
	uint32_t signer;
	const uint8_t *signature;
	size_t signature_len;
	const uint8_t *tbs;                /* GroupInfoTBS: everything before the signature */
	size_t tbs_len;
};

struct mls_group_secrets {
	const uint8_t *joiner_secret;      /* SECRET, MLS_HASH_LEN bytes */
	const uint8_t *path_secret;        /* SECRET, MLS_HASH_LEN bytes, or NULL */
	const uint8_t *psks;               /* the contents of the psks vector */
	size_t psks_len;
};

/* Fail the cursor (SOTTO_ERR_MALFORMED, SOTTO_ERR_UNSUPPORTED for another suite) on
 * anything not well-formed. */
void mls_welcome_read(struct cur *c, struct mls_welcome *w);
void mls_group_info_read(struct cur *c, struct mls_group_info *gi);
void mls_group_secrets_read(struct cur *c, struct mls_group_secrets *gs);

void mls_welcome_write(struct buf *b, const struct mls_welcome *w);
void mls_group_info_write(struct buf *b, const struct mls_group_info *gi);

#endif
