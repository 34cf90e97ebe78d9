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
#include "mls/suite.h"
#include "sotto/error.h"

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

/* KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) (section 5.2). */
int mls_key_package_ref(uint8_t out[static MLS_HASH_LEN], const uint8_t *key_package,
    size_t len) SOTTO_MUST_CHECK;

/* Joining (section 12.4.3.1), step by step:
 *
 * mls_welcome_open_secrets: finds the EncryptedGroupSecrets for kp_ref
 * (SOTTO_ERR_NOT_FOUND if none), decrypts it with the KeyPackage's init key init_sec
 * (SECRET) as DecryptWithLabel(init_sec, "Welcome", encrypted_group_info, ...) into plain
 * (growable; it then holds secrets: buf_wipe_free it) and reads gs from it. */
int mls_welcome_open_secrets(const struct mls_welcome *w, const uint8_t kp_ref[static MLS_HASH_LEN],
    const uint8_t init_sec[static MLS_KEM_SECRET_LEN], struct buf *plain,
    struct mls_group_secrets *gs) SOTTO_MUST_CHECK;
/* mls_welcome_open_group_info: welcome_secret (SECRET, from the key schedule with the
 * joiner_secret and psk_secret) gives the welcome key and nonce; the GroupInfo is decrypted
 * into plain (growable) and read into gi. SOTTO_ERR_DECRYPT, or a parse error. */
int mls_welcome_open_group_info(const struct mls_welcome *w,
    const uint8_t welcome_secret[static MLS_HASH_LEN], struct buf *plain,
    struct mls_group_info *gi) SOTTO_MUST_CHECK;
/* SOTTO_ERR_BAD_SIGNATURE unless gi is signed by signer_pub (VerifyWithLabel
 * "GroupInfoTBS"). */
int mls_group_info_verify(const struct mls_group_info *gi,
    const uint8_t signer_pub[static MLS_SIG_PUBLIC_LEN]) SOTTO_MUST_CHECK;

#endif
