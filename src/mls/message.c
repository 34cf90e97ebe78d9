#include "mls/message.h"

#include <string.h>
#include <sodium.h>

#include "crypto/init.h"
#include "mls/crypto.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"

void
mls_message_read(struct cur *c, struct mls_message *m)
{
	memset(m, 0, sizeof(*m));
	if (cur_u16(c) != MLS_PROTOCOL_VERSION_MLS10) {
		cur_fail(c, SOTTO_ERR_BAD_VERSION);
		return;
	}
	m->wire_format = cur_u16(c);
	switch (m->wire_format) {
	case MLS_WIRE_PUBLIC_MESSAGE:
		m->pub.wire_format = MLS_WIRE_PUBLIC_MESSAGE;
		mls_framed_content_read(c, &m->pub.content);
		mls_auth_data_read(c, m->pub.content.content_type, &m->pub.auth);
		if (m->pub.content.sender_type == MLS_SENDER_MEMBER) {
			m->membership_tag = mls_cur_opaque_fixed(c, MLS_HASH_LEN);
			m->membership_tag_len = MLS_HASH_LEN;
		}
		break;
	case MLS_WIRE_PRIVATE_MESSAGE:
		m->group_id = mls_cur_opaque(c, MLS_GROUP_ID_MAX, &m->group_id_len);
		m->epoch = cur_u64(c);
		m->content_type = cur_u8(c);
		if (m->content_type < MLS_CONTENT_APPLICATION || m->content_type > MLS_CONTENT_COMMIT)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		m->authenticated_data = mls_cur_opaque(c, MLS_MESSAGE_MAX, &m->authenticated_data_len);
		m->encrypted_sender_data = mls_cur_opaque(c, MLS_SENDER_DATA_LEN + MLS_AEAD_TAG_LEN,
		    &m->encrypted_sender_data_len);
		m->ciphertext = mls_cur_opaque(c, MLS_MESSAGE_MAX, &m->ciphertext_len);
		break;
	case MLS_WIRE_KEY_PACKAGE:
		mls_key_package_read(c, &m->key_package);
		break;
	case MLS_WIRE_WELCOME:
		mls_welcome_read(c, &m->welcome);
		break;
	case MLS_WIRE_GROUP_INFO:
		mls_group_info_read(c, &m->group_info);
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
		break;
	}
}

/* PrivateContentAAD, or SenderDataAAD when with_data is 0. */
static void
write_private_aad(struct buf *b, const uint8_t *group_id, size_t group_id_len, uint64_t epoch,
    uint8_t content_type, const uint8_t *data, size_t data_len, int with_data)
{
	mls_buf_opaque(b, group_id, group_id_len);
	buf_u64(b, epoch);
	buf_u8(b, content_type);
	if (with_data)
		mls_buf_opaque(b, data, data_len);
}

int
mls_message_write(struct buf *b, const struct mls_message *m)
{
	buf_u16(b, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(b, m->wire_format);
	switch (m->wire_format) {
	case MLS_WIRE_PUBLIC_MESSAGE:
		mls_framed_content_write(b, &m->pub.content);
		mls_auth_data_write(b, m->pub.content.content_type, &m->pub.auth);
		if (m->pub.content.sender_type == MLS_SENDER_MEMBER)
			mls_buf_opaque(b, m->membership_tag, m->membership_tag_len);
		break;
	case MLS_WIRE_PRIVATE_MESSAGE:
		write_private_aad(b, m->group_id, m->group_id_len, m->epoch, m->content_type,
		    m->authenticated_data, m->authenticated_data_len, 1);
		mls_buf_opaque(b, m->encrypted_sender_data, m->encrypted_sender_data_len);
		mls_buf_opaque(b, m->ciphertext, m->ciphertext_len);
		break;
	case MLS_WIRE_WELCOME:
		mls_welcome_write(b, &m->welcome);
		break;
	case MLS_WIRE_GROUP_INFO:
		mls_group_info_write(b, &m->group_info);
		break;
	default:
		return SOTTO_ERR_UNSUPPORTED;
	}
	return buf_status(b);
}

/* FramedContentTBS. */
static void
write_tbs(struct buf *b, uint16_t wire_format, const struct mls_framed_content *fc,
    const struct mls_epoch_keys *ek)
{
	buf_u16(b, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(b, wire_format);
	mls_framed_content_write(b, fc);
	if (fc->sender_type == MLS_SENDER_MEMBER || fc->sender_type == MLS_SENDER_NEW_MEMBER_COMMIT)
		buf_put(b, ek->gc_bytes, ek->gc_len);
}

int
mls_content_sign(uint8_t sig[static MLS_SIG_LEN], const uint8_t sec[static 64],
    uint16_t wire_format, const struct mls_framed_content *fc, const struct mls_epoch_keys *ek)
{
	struct buf tbs;
	int r;

	buf_init_dyn(&tbs, 2 * MLS_MESSAGE_MAX);
	write_tbs(&tbs, wire_format, fc, ek);
	if ((r = buf_status(&tbs)) == 0)
		r = mls_sign_with_label(sig, sec, "FramedContentTBS", tbs.p, tbs.len);
	buf_wipe_free(&tbs);    /* application data is the caller's plaintext */
	return r;
}

int
mls_content_verify(const struct mls_authenticated_content *ac,
    const uint8_t pub[static MLS_SIG_PUBLIC_LEN], const struct mls_epoch_keys *ek)
{
	struct buf tbs;
	int r;

	if (ac->auth.signature_len != MLS_SIG_LEN)
		return SOTTO_ERR_BAD_SIGNATURE;
	buf_init_dyn(&tbs, 2 * MLS_MESSAGE_MAX);
	write_tbs(&tbs, ac->wire_format, &ac->content, ek);
	if ((r = buf_status(&tbs)) == 0)
		r = mls_verify_with_label(ac->auth.signature, pub, "FramedContentTBS", tbs.p, tbs.len);
	buf_wipe_free(&tbs);
	return r;
}

/* MAC(membership_key, FramedContentTBS || FramedContentAuthData). */
static int
membership_tag(uint8_t out[static MLS_HASH_LEN], const struct mls_authenticated_content *ac,
    const struct mls_epoch_keys *ek)
{
	struct buf tbm;
	int r;

	buf_init_dyn(&tbm, 2 * MLS_MESSAGE_MAX);
	write_tbs(&tbm, MLS_WIRE_PUBLIC_MESSAGE, &ac->content, ek);
	mls_auth_data_write(&tbm, ac->content.content_type, &ac->auth);
	if ((r = buf_status(&tbm)) == 0)
		mls_mac(out, ek->membership_key, MLS_HASH_LEN, tbm.p, tbm.len);
	buf_free(&tbm);
	return r;
}

static int
same_epoch(const uint8_t *group_id, size_t group_id_len, uint64_t epoch,
    const struct mls_epoch_keys *ek)
{
	return group_id_len == ek->gc.group_id_len && epoch == ek->gc.epoch &&
	    (group_id_len == 0 || memcmp(group_id, ek->gc.group_id, group_id_len) == 0);
}

int
mls_public_message_write(struct buf *out, const struct mls_authenticated_content *ac,
    const struct mls_epoch_keys *ek)
{
	uint8_t tag[MLS_HASH_LEN];
	int r;

	if (ac->wire_format != MLS_WIRE_PUBLIC_MESSAGE)
		return SOTTO_ERR_INVALID_ARG;
	buf_u16(out, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(out, MLS_WIRE_PUBLIC_MESSAGE);
	mls_framed_content_write(out, &ac->content);
	mls_auth_data_write(out, ac->content.content_type, &ac->auth);
	if (ac->content.sender_type == MLS_SENDER_MEMBER) {
		if ((r = membership_tag(tag, ac, ek)) != 0)
			return r;
		mls_buf_opaque(out, tag, sizeof(tag));
	}
	return buf_status(out);
}

int
mls_public_message_check(const struct mls_message *m, const struct mls_epoch_keys *ek)
{
	const struct mls_framed_content *fc = &m->pub.content;
	uint8_t tag[MLS_HASH_LEN];
	int r;

	if (m->wire_format != MLS_WIRE_PUBLIC_MESSAGE)
		return SOTTO_ERR_INVALID_ARG;
	if (!same_epoch(fc->group_id, fc->group_id_len, fc->epoch, ek))
		return SOTTO_ERR_STATE;
	if (fc->content_type == MLS_CONTENT_APPLICATION)
		return SOTTO_ERR_PROTOCOL;
	if (fc->sender_type != MLS_SENDER_MEMBER)
		return 0;
	if ((r = membership_tag(tag, &m->pub, ek)) != 0)
		return r;
	if (m->membership_tag_len != MLS_HASH_LEN ||
	    sodium_memcmp(tag, m->membership_tag, MLS_HASH_LEN) != 0)
		return SOTTO_ERR_AUTH;
	return 0;
}

int
mls_private_message_write(struct buf *out, const struct mls_authenticated_content *ac,
    const struct mls_epoch_keys *ek)
{
	const struct mls_framed_content *fc = &ac->content;
	uint8_t key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];       /* SECRET */
	uint8_t sd_key[MLS_AEAD_KEY_LEN], sd_nonce[MLS_AEAD_NONCE_LEN]; /* SECRET */
	uint8_t sender_data[MLS_SENDER_DATA_LEN], enc_sd[MLS_SENDER_DATA_LEN + MLS_AEAD_TAG_LEN];
	uint8_t aad_mem[16 + MLS_GROUP_ID_MAX];
	struct buf pt, aad, sd_aad;
	uint8_t *ct = NULL;
	uint32_t generation;
	size_t pad, ct_len;
	int r = SOTTO_ERR_INTERNAL, i;

	if (ac->wire_format != MLS_WIRE_PRIVATE_MESSAGE || fc->sender_type != MLS_SENDER_MEMBER ||
	    !same_epoch(fc->group_id, fc->group_id_len, fc->epoch, ek))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sotto_crypto_init()) != 0)
		return r;
	buf_init_dyn(&pt, MLS_MESSAGE_MAX);
	buf_init_dyn(&aad, MLS_MESSAGE_MAX + sizeof(aad_mem));
	/* PrivateMessageContent, padded. */
	mls_content_body_write(&pt, fc->content_type, fc->body, fc->body_len);
	mls_auth_data_write(&pt, fc->content_type, &ac->auth);
	pad = (MLS_PADDING_BLOCK - pt.len % MLS_PADDING_BLOCK) % MLS_PADDING_BLOCK;
	if (pad > 0 && buf_reserve(&pt, pad) != NULL)
		sodium_memzero(pt.p + pt.len - pad, pad);
	write_private_aad(&aad, fc->group_id, fc->group_id_len, fc->epoch, fc->content_type,
	    fc->authenticated_data, fc->authenticated_data_len, 1);
	if ((r = buf_status(&pt)) != 0 || (r = buf_status(&aad)) != 0)
		goto out;
	if ((r = mls_secret_tree_next_key(ek->tree, fc->sender_index,
	    fc->content_type != MLS_CONTENT_APPLICATION, &generation, key, nonce)) != 0)
		goto out;
	/* SenderData, and the reuse guard mixed into the content nonce. */
	sender_data[0] = (uint8_t)(fc->sender_index >> 24);
	sender_data[1] = (uint8_t)(fc->sender_index >> 16);
	sender_data[2] = (uint8_t)(fc->sender_index >> 8);
	sender_data[3] = (uint8_t)fc->sender_index;
	sender_data[4] = (uint8_t)(generation >> 24);
	sender_data[5] = (uint8_t)(generation >> 16);
	sender_data[6] = (uint8_t)(generation >> 8);
	sender_data[7] = (uint8_t)generation;
	randombytes_buf(sender_data + 8, MLS_REUSE_GUARD_LEN);
	for (i = 0; i < MLS_REUSE_GUARD_LEN; i++)
		nonce[i] ^= sender_data[8 + i];
	ct_len = pt.len + MLS_AEAD_TAG_LEN;
	if ((ct = malloc(ct_len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if (crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt.p, pt.len, aad.p, aad.len, NULL,
	    nonce, key) != 0) {
		r = SOTTO_ERR_CRYPTO;
		goto out;
	}
	if ((r = mls_sender_data_key(sd_key, sd_nonce, ek->sender_data_secret, ct, ct_len)) != 0)
		goto out;
	buf_init_fixed(&sd_aad, aad_mem, sizeof(aad_mem));
	write_private_aad(&sd_aad, fc->group_id, fc->group_id_len, fc->epoch, fc->content_type,
	    NULL, 0, 0);
	if ((r = buf_status(&sd_aad)) != 0)
		goto out;
	if (crypto_aead_chacha20poly1305_ietf_encrypt(enc_sd, NULL, sender_data, sizeof(sender_data),
	    sd_aad.p, sd_aad.len, NULL, sd_nonce, sd_key) != 0) {
		r = SOTTO_ERR_CRYPTO;
		goto out;
	}
	buf_u16(out, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(out, MLS_WIRE_PRIVATE_MESSAGE);
	write_private_aad(out, fc->group_id, fc->group_id_len, fc->epoch, fc->content_type,
	    fc->authenticated_data, fc->authenticated_data_len, 1);
	mls_buf_opaque(out, enc_sd, sizeof(enc_sd));
	mls_buf_opaque(out, ct, ct_len);
	r = buf_status(out);
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	sodium_memzero(sd_key, sizeof(sd_key));
	sodium_memzero(sd_nonce, sizeof(sd_nonce));
	buf_wipe_free(&pt);
	buf_free(&aad);
	free(ct);
	return r;
}

void
mls_private_content_read(struct cur *c, uint8_t content_type, struct mls_framed_content *fc,
    struct mls_auth_data *auth)
{
	const uint8_t *padding;
	size_t pad_len;

	mls_content_body_read(c, content_type, &fc->body, &fc->body_len);
	mls_auth_data_read(c, content_type, auth);
	padding = cur_rest(c, &pad_len);
	if (padding != NULL && pad_len > 0 && !sodium_is_zero(padding, pad_len))
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

/* Opens the sender data: leaf, generation and reuse guard. */
static int
open_sender_data(const struct mls_message *m, const struct mls_epoch_keys *ek,
    uint8_t sender_data[static MLS_SENDER_DATA_LEN])
{
	uint8_t sd_key[MLS_AEAD_KEY_LEN], sd_nonce[MLS_AEAD_NONCE_LEN];   /* SECRET */
	uint8_t aad_mem[16 + MLS_GROUP_ID_MAX];
	struct buf aad;
	int r;

	if (m->encrypted_sender_data_len != MLS_SENDER_DATA_LEN + MLS_AEAD_TAG_LEN)
		return SOTTO_ERR_MALFORMED;
	if ((r = mls_sender_data_key(sd_key, sd_nonce, ek->sender_data_secret, m->ciphertext,
	    m->ciphertext_len)) != 0)
		return r;
	buf_init_fixed(&aad, aad_mem, sizeof(aad_mem));
	write_private_aad(&aad, m->group_id, m->group_id_len, m->epoch, m->content_type, NULL, 0, 0);
	if ((r = buf_status(&aad)) == 0 && crypto_aead_chacha20poly1305_ietf_decrypt(sender_data,
	    NULL, NULL, m->encrypted_sender_data, m->encrypted_sender_data_len, aad.p, aad.len,
	    sd_nonce, sd_key) != 0)
		r = SOTTO_ERR_DECRYPT;
	sodium_memzero(sd_key, sizeof(sd_key));
	sodium_memzero(sd_nonce, sizeof(sd_nonce));
	return r;
}

int
mls_private_message_read(const struct mls_message *m, const struct mls_epoch_keys *ek,
    struct buf *plain, struct mls_authenticated_content *ac)
{
	uint8_t key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];      /* SECRET */
	uint8_t sender_data[MLS_SENDER_DATA_LEN];
	uint8_t *pt;
	struct buf aad;
	struct cur c;
	uint32_t leaf, generation;
	size_t pt_len;
	int r, i, handshake;

	if (m->wire_format != MLS_WIRE_PRIVATE_MESSAGE)
		return SOTTO_ERR_INVALID_ARG;
	if (!same_epoch(m->group_id, m->group_id_len, m->epoch, ek))
		return SOTTO_ERR_STATE;
	if (m->ciphertext_len < MLS_AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if ((r = open_sender_data(m, ek, sender_data)) != 0)
		return r;
	leaf = (uint32_t)sender_data[0] << 24 | (uint32_t)sender_data[1] << 16 |
	    (uint32_t)sender_data[2] << 8 | sender_data[3];
	generation = (uint32_t)sender_data[4] << 24 | (uint32_t)sender_data[5] << 16 |
	    (uint32_t)sender_data[6] << 8 | sender_data[7];
	if (leaf >= ek->tree->n_leaves)
		return SOTTO_ERR_MALFORMED;
	handshake = m->content_type != MLS_CONTENT_APPLICATION;
	if ((r = mls_secret_tree_peek_key(ek->tree, leaf, handshake, generation, key, nonce)) != 0)
		return r;
	for (i = 0; i < MLS_REUSE_GUARD_LEN; i++)
		nonce[i] ^= sender_data[8 + i];
	buf_init_dyn(&aad, MLS_MESSAGE_MAX + 16 + MLS_GROUP_ID_MAX);
	write_private_aad(&aad, m->group_id, m->group_id_len, m->epoch, m->content_type,
	    m->authenticated_data, m->authenticated_data_len, 1);
	pt_len = m->ciphertext_len - MLS_AEAD_TAG_LEN;
	if ((r = buf_status(&aad)) != 0)
		goto out;
	buf_reset(plain);
	if ((pt = buf_reserve(plain, pt_len)) == NULL && pt_len > 0) {
		r = buf_status(plain);
		goto out;
	}
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, m->ciphertext,
	    m->ciphertext_len, aad.p, aad.len, nonce, key) != 0) {
		r = SOTTO_ERR_DECRYPT;
		goto out;
	}
	/* Authentic: the generation is used up. */
	if ((r = mls_secret_tree_consume_key(ek->tree, leaf, handshake, generation)) != 0)
		goto out;
	/* PrivateMessageContent: body, auth, then nothing but zeros. */
	memset(ac, 0, sizeof(*ac));
	ac->wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	ac->content.group_id = m->group_id;
	ac->content.group_id_len = m->group_id_len;
	ac->content.epoch = m->epoch;
	ac->content.sender_type = MLS_SENDER_MEMBER;
	ac->content.sender_index = leaf;
	ac->content.authenticated_data = m->authenticated_data;
	ac->content.authenticated_data_len = m->authenticated_data_len;
	ac->content.content_type = m->content_type;
	cur_init(&c, plain->p, plain->len);
	mls_private_content_read(&c, m->content_type, &ac->content, &ac->auth);
	r = cur_finish(&c);
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	buf_free(&aad);
	return r;
}
