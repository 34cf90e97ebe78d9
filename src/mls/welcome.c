#include "mls/welcome.h"

#include <string.h>
#include <sodium.h>

#include "mls/crypto.h"
#include "mls/limits.h"
#include "mls/proposal.h"
#include "mls/psk.h"
#include "mls/suite.h"
#include "mls/tls_codec.h"

void
mls_welcome_read(struct cur *c, struct mls_welcome *w)
{
	struct cur list;
	size_t n;

	w->cipher_suite = cur_u16(c);
	if (cur_status(c) == 0 && w->cipher_suite != MLS_CIPHER_SUITE)
		cur_fail(c, SOTTO_ERR_UNSUPPORTED);
	mls_cur_vector(c, MLS_MESSAGE_MAX, &list);
	w->secrets = list.p;
	w->secrets_len = list.len;
	w->secrets_count = 0;
	while (cur_left(&list) > 0) {
		(void)mls_cur_opaque(&list, MLS_HASH_LEN, &n);            /* new_member */
		(void)mls_cur_opaque_fixed(&list, MLS_KEM_PUBLIC_LEN);              /* kem_output */
		(void)mls_cur_opaque(&list, MLS_MESSAGE_MAX, &n);         /* ciphertext */
		w->secrets_count++;
	}
	if (cur_finish(&list) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	w->encrypted_group_info = mls_cur_opaque(c, MLS_MESSAGE_MAX, &w->encrypted_group_info_len);
}

void
mls_welcome_write(struct buf *b, const struct mls_welcome *w)
{
	buf_u16(b, w->cipher_suite);
	mls_buf_opaque(b, w->secrets, w->secrets_len);
	mls_buf_opaque(b, w->encrypted_group_info, w->encrypted_group_info_len);
}

void
mls_group_info_read(struct cur *c, struct mls_group_info *gi)
{
	size_t start = c->off;

	mls_group_context_read(c, &gi->gc);
	/* The ratchet_tree extension makes these as large as a message, not MLS_EXTENSIONS_MAX:
	 * a 1,000-member tree is about 250 KB (bench-mls). */
	gi->extensions = mls_cur_opaque(c, MLS_MESSAGE_MAX, &gi->extensions_len);
	if (cur_status(c) == 0 && mls_extensions_check(gi->extensions, gi->extensions_len) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	gi->confirmation_tag = mls_cur_opaque_fixed(c, MLS_HASH_LEN);
	gi->signer = cur_u32(c);
	if (cur_status(c) == 0) {
		gi->tbs = c->p + start;
		gi->tbs_len = c->off - start;
	}
	gi->signature = mls_cur_opaque(c, MLS_SIGNATURE_MAX, &gi->signature_len);
}

void
mls_group_info_write(struct buf *b, const struct mls_group_info *gi)
{
	mls_group_context_write(b, &gi->gc);
	mls_buf_opaque(b, gi->extensions, gi->extensions_len);
	mls_buf_opaque(b, gi->confirmation_tag, MLS_HASH_LEN);
	buf_u32(b, gi->signer);
	mls_buf_opaque(b, gi->signature, gi->signature_len);
}

void
mls_group_secrets_read(struct cur *c, struct mls_group_secrets *gs)
{
	struct cur list;
	uint8_t present;

	gs->joiner_secret = mls_cur_opaque_fixed(c, MLS_HASH_LEN);
	gs->path_secret = NULL;
	present = cur_u8(c);
	if (present == 1)
		gs->path_secret = mls_cur_opaque_fixed(c, MLS_HASH_LEN);
	else if (present > 1)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	mls_cur_vector(c, MLS_PSK_COUNT_MAX * (4 + 3 * (2 + MLS_PSK_ID_MAX) + 8), &list);
	gs->psks = list.p;
	gs->psks_len = list.len;
	while (cur_left(&list) > 0) {
		struct mls_psk id;

		mls_psk_id_read(&list, &id);
	}
	if (cur_finish(&list) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

int
mls_key_package_ref(uint8_t out[static MLS_HASH_LEN], const uint8_t *key_package, size_t len)
{
	return mls_ref_hash(out, "MLS 1.0 KeyPackage Reference", key_package, len);
}

int
mls_welcome_open_secrets(const struct mls_welcome *w, const uint8_t kp_ref[static MLS_HASH_LEN],
    const uint8_t init_sec[static MLS_KEM_SECRET_LEN], struct buf *plain,
    struct mls_group_secrets *gs)
{
	struct cur list, c;
	const uint8_t *ref, *kem, *ct;
	size_t ref_len, kem_len, ct_len;
	uint8_t *pt;
	int r;

	cur_init(&list, w->secrets, w->secrets_len);
	while (cur_left(&list) > 0) {
		ref = mls_cur_opaque(&list, MLS_HASH_LEN, &ref_len);
		kem = mls_cur_opaque(&list, MLS_KEM_PUBLIC_LEN, &kem_len);
		ct = mls_cur_opaque(&list, MLS_MESSAGE_MAX, &ct_len);
		if (cur_status(&list) != 0 || kem_len != MLS_KEM_PUBLIC_LEN)
			return SOTTO_ERR_MALFORMED;
		if (ref_len != MLS_HASH_LEN || memcmp(ref, kp_ref, MLS_HASH_LEN) != 0)
			continue;
		if (ct_len < MLS_AEAD_TAG_LEN)
			return SOTTO_ERR_TRUNCATED;
		buf_reset(plain);
		if ((pt = buf_reserve(plain, ct_len - MLS_AEAD_TAG_LEN)) == NULL &&
		    ct_len > MLS_AEAD_TAG_LEN)
			return buf_status(plain);
		if ((r = mls_decrypt_with_label(pt, init_sec, "Welcome", w->encrypted_group_info,
		    w->encrypted_group_info_len, kem, ct, ct_len)) != 0)
			return r;
		cur_init(&c, plain->p, plain->len);
		mls_group_secrets_read(&c, gs);
		return cur_finish(&c);
	}
	return SOTTO_ERR_NOT_FOUND;
}

int
mls_welcome_open_group_info(const struct mls_welcome *w,
    const uint8_t welcome_secret[static MLS_HASH_LEN], struct buf *plain,
    struct mls_group_info *gi)
{
	uint8_t key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];    /* SECRET */
	size_t len = w->encrypted_group_info_len;
	struct cur c;
	uint8_t *pt;
	int r;

	if (len < MLS_AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if ((r = mls_expand_with_label(key, sizeof(key), welcome_secret, "key", NULL, 0)) != 0 ||
	    (r = mls_expand_with_label(nonce, sizeof(nonce), welcome_secret, "nonce", NULL, 0)) != 0)
		goto out;
	buf_reset(plain);
	if ((pt = buf_reserve(plain, len - MLS_AEAD_TAG_LEN)) == NULL && len > MLS_AEAD_TAG_LEN) {
		r = buf_status(plain);
		goto out;
	}
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, w->encrypted_group_info,
	    len, NULL, 0, nonce, key) != 0) {
		r = SOTTO_ERR_DECRYPT;
		goto out;
	}
	cur_init(&c, plain->p, plain->len);
	mls_group_info_read(&c, gi);
	r = cur_finish(&c);
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

int
mls_group_info_verify(const struct mls_group_info *gi,
    const uint8_t signer_pub[static MLS_SIG_PUBLIC_LEN])
{
	if (gi->signature_len != MLS_SIG_LEN)
		return SOTTO_ERR_BAD_SIGNATURE;
	return mls_verify_with_label(gi->signature, signer_pub, "GroupInfoTBS", gi->tbs, gi->tbs_len);
}
