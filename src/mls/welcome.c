#include "mls/welcome.h"

#include "mls/limits.h"
#include "mls/proposal.h"
#include "mls/psk.h"
#include "mls/suite.h"
#include "mls/tls_codec.h"

/* An opaque<V> of exactly len bytes. */
static const uint8_t *
read_exact(struct cur *c, size_t len)
{
	size_t n;
	const uint8_t *p = mls_cur_opaque(c, len, &n);

	if (p != NULL && n != len) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return NULL;
	}
	return p;
}

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
		(void)read_exact(&list, MLS_KEM_PUBLIC_LEN);              /* kem_output */
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
	gi->extensions = mls_cur_opaque(c, MLS_EXTENSIONS_MAX, &gi->extensions_len);
	if (cur_status(c) == 0 && mls_extensions_check(gi->extensions, gi->extensions_len) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	gi->confirmation_tag = read_exact(c, MLS_HASH_LEN);
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

	gs->joiner_secret = read_exact(c, MLS_HASH_LEN);
	gs->path_secret = NULL;
	present = cur_u8(c);
	if (present == 1)
		gs->path_secret = read_exact(c, MLS_HASH_LEN);
	else if (present > 1)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	mls_cur_vector(c, MLS_PSK_COUNT_MAX * (4 + 3 * (2 + MLS_PSK_ID_MAX) + 8), &list);
	gs->psks = list.p;
	gs->psks_len = list.len;
	while (cur_left(&list) > 0)
		mls_psk_id_read(&list);
	if (cur_finish(&list) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}
