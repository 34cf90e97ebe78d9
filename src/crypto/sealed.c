/*
 * Sealed sender envelope (docs/PROTOCOL.md, "Sealed sender"):
 *
 *   0x01 || E[32] || c1 = AEAD(k1, n1, ad = 0x01 || E, S_ident[32])       (48 bytes)
 *        || c2 = AEAD(k2, n2, ad = 0x01 || E || c1, pad(content))
 *
 *   k1 || n1 || chain = HKDF(salt = E || R_ident, ikm = X25519(e, R), "Sotto sealed v1 ephemeral")
 *   k2 || n2          = HKDF(salt = chain || c1, ikm = X25519(s, R), "Sotto sealed v1 static")
 *
 * e is fresh per envelope, so the server (which sees only E) learns nothing about the sender;
 * the second layer needs the sender's static secret, so opening proves that S_ident's owner
 * (or the recipient itself) made the envelope.
 */
#include "crypto/sealed.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "crypto/aead.h"
#include "crypto/dh.h"
#include "crypto/hkdf.h"
#include "crypto/pad.h"
#include "crypto/e2e_session.h"

#define LABEL_EPH "Sotto sealed v1 ephemeral"
#define LABEL_STATIC "Sotto sealed v1 static"
#define C1_LEN (SIGN_PUBLIC_LEN + AEAD_TAG_LEN)
#define HEAD_LEN (1 + DH_PUBLIC_LEN + C1_LEN)
#define CHAIN_LEN 32

_Static_assert(SEALED_OVERHEAD == HEAD_LEN + AEAD_TAG_LEN, "sealed overhead");

/* Keys for both layers. SECRET. */
struct sealed_keys {
	uint8_t k1[AEAD_KEY_LEN + AEAD_NONCE_LEN + CHAIN_LEN];
	uint8_t k2[AEAD_KEY_LEN + AEAD_NONCE_LEN];
};

static int
sealed_eph_keys(struct sealed_keys *k, const uint8_t dh_e[DH_SHARED_LEN],
    const uint8_t e_pub[DH_PUBLIC_LEN], const uint8_t r_ident[SIGN_PUBLIC_LEN])
{
	uint8_t salt[DH_PUBLIC_LEN + SIGN_PUBLIC_LEN];

	memcpy(salt, e_pub, DH_PUBLIC_LEN);
	memcpy(salt + DH_PUBLIC_LEN, r_ident, SIGN_PUBLIC_LEN);
	return hkdf_sha256(k->k1, sizeof(k->k1), salt, sizeof(salt), dh_e, DH_SHARED_LEN,
	    (const uint8_t *)LABEL_EPH, sizeof(LABEL_EPH) - 1);
}

static int
sealed_static_keys(struct sealed_keys *k, const uint8_t dh_s[DH_SHARED_LEN],
    const uint8_t c1[C1_LEN])
{
	uint8_t salt[CHAIN_LEN + C1_LEN];   /* SECRET (the chain part) */
	int r;

	memcpy(salt, k->k1 + AEAD_KEY_LEN + AEAD_NONCE_LEN, CHAIN_LEN);
	memcpy(salt + CHAIN_LEN, c1, C1_LEN);
	r = hkdf_sha256(k->k2, sizeof(k->k2), salt, sizeof(salt), dh_s, DH_SHARED_LEN,
	    (const uint8_t *)LABEL_STATIC, sizeof(LABEL_STATIC) - 1);
	sodium_memzero(salt, sizeof(salt));
	return r;
}

static int
content_check(const struct sealed_content *c)
{
	if (c->sender_addr == NULL || c->sender_addr_len == 0 ||
	    c->sender_addr_len > SEALED_ADDR_MAX || c->cert_len > SEALED_CERT_MAX ||
	    (c->cert == NULL && c->cert_len > 0) || c->msg == NULL || c->msg_len == 0 ||
	    (c->msg_type != E2E_SESSION_MSG_NORMAL && c->msg_type != E2E_SESSION_MSG_PREKEY &&
	    c->msg_type != E2E_SESSION_MSG_DECRYPT_ERROR))
		return SOTTO_ERR_INVALID_ARG;
	return 0;
}

int
sealed_seal(struct buf *out, const struct x3dh_identity *sender,
    const uint8_t recipient_ident[static SIGN_PUBLIC_LEN], const struct sealed_content *c)
{
	struct sealed_keys k;
	uint8_t r_dh[DH_PUBLIC_LEN], e_pub[DH_PUBLIC_LEN];
	uint8_t e_sec[DH_SECRET_LEN], dh[DH_SHARED_LEN];         /* SECRET */
	uint8_t ad[1 + DH_PUBLIC_LEN + C1_LEN];
	struct buf inner, padded;
	uint8_t *w;
	size_t mark = out->len;
	int r;

	if ((r = content_check(c)) != 0)
		return r;
	if (sender->pub_len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sign_pk_to_dh(r_dh, recipient_ident)) != 0)
		return r;
	buf_init_dyn(&inner, SEALED_PADDED_MAX);
	buf_init_dyn(&padded, SEALED_PADDED_MAX);
	buf_lv16(&inner, c->sender_addr, c->sender_addr_len);
	buf_lv16(&inner, c->cert, c->cert_len);
	buf_u8(&inner, c->msg_type);
	buf_lv32(&inner, c->msg, c->msg_len);
	if ((r = buf_status(&inner)) != 0 ||
	    (r = pad_apply(&padded, inner.p, inner.len, SEALED_PADDED_MAX)) != 0)
		goto out;
	if ((r = dh_keypair(e_pub, e_sec)) != 0 || (r = dh_shared(dh, e_sec, r_dh)) != 0 ||
	    (r = sealed_eph_keys(&k, dh, e_pub, recipient_ident)) != 0 ||
	    (r = dh_shared(dh, sender->dh_sec, r_dh)) != 0)
		goto out;
	if ((w = buf_reserve(out, HEAD_LEN + padded.len + AEAD_TAG_LEN)) == NULL) {
		r = buf_status(out);
		goto out;
	}
	w[0] = SEALED_VERSION;
	memcpy(w + 1, e_pub, DH_PUBLIC_LEN);
	memcpy(ad, w, 1 + DH_PUBLIC_LEN);
	if ((r = aead_seal(w + 1 + DH_PUBLIC_LEN, sender->pub, SIGN_PUBLIC_LEN, ad,
	    1 + DH_PUBLIC_LEN, k.k1 + AEAD_KEY_LEN, k.k1)) != 0 ||
	    (r = sealed_static_keys(&k, dh, w + 1 + DH_PUBLIC_LEN)) != 0)
		goto out;
	memcpy(ad + 1 + DH_PUBLIC_LEN, w + 1 + DH_PUBLIC_LEN, C1_LEN);
	r = aead_seal(w + HEAD_LEN, padded.p, padded.len, ad, sizeof(ad), k.k2 + AEAD_KEY_LEN,
	    k.k2);
out:
	if (r != 0 && out->err == 0 && out->len > mark)
		out->len = mark;
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(e_sec, sizeof(e_sec));
	sodium_memzero(dh, sizeof(dh));
	buf_wipe_free(&inner);
	buf_wipe_free(&padded);
	return r;
}

int
sealed_content_parse(struct sealed_opened *o, const uint8_t *p, size_t len)
{
	const uint8_t *addr, *cert, *msg;
	size_t addr_len, cert_len, msg_len, i;
	struct cur c;
	int r;

	cur_init(&c, p, len);
	addr = cur_lv16(&c, SEALED_ADDR_MAX, &addr_len);
	cert = cur_lv16(&c, SEALED_CERT_MAX, &cert_len);
	o->msg_type = cur_u8(&c);
	msg = cur_lv32(&c, SEALED_ENVELOPE_MAX, &msg_len);
	if ((r = cur_finish(&c)) != 0)
		return r;
	if (addr_len == 0 || msg_len == 0 ||
	    (o->msg_type != E2E_SESSION_MSG_NORMAL && o->msg_type != E2E_SESSION_MSG_PREKEY &&
	    o->msg_type != E2E_SESSION_MSG_DECRYPT_ERROR))
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < addr_len; i++)
		if (addr[i] == '\0')
			return SOTTO_ERR_MALFORMED;
	if (o->msg != NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((o->msg = malloc(msg_len)) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(o->msg, msg, msg_len);
	o->msg_len = msg_len;
	memcpy(o->sender_addr, addr, addr_len);
	o->sender_addr[addr_len] = '\0';
	o->sender_addr_len = addr_len;
	if (cert_len > 0)
		memcpy(o->cert, cert, cert_len);
	o->cert_len = cert_len;
	return 0;
}

int
sealed_open(struct sealed_opened *o, const struct x3dh_identity *recipient,
    const uint8_t *env, size_t len)
{
	struct sealed_keys k;
	uint8_t s_dh[DH_PUBLIC_LEN], e_pub[DH_PUBLIC_LEN], c1[C1_LEN];
	uint8_t dh[DH_SHARED_LEN];                               /* SECRET */
	uint8_t ad[1 + DH_PUBLIC_LEN + C1_LEN];
	uint8_t *padded = NULL;                                  /* SECRET */
	const uint8_t *c2;
	size_t c2_len = 0, n;
	struct cur c;
	int r;

	memset(o, 0, sizeof(*o));
	memset(&k, 0, sizeof(k));
	if (len > SEALED_ENVELOPE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (recipient->pub_len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_INVALID_ARG;
	cur_init(&c, env, len);
	if (len >= 1 && cur_u8(&c) != SEALED_VERSION)
		return SOTTO_ERR_BAD_VERSION;
	cur_copy(&c, e_pub, DH_PUBLIC_LEN);
	cur_copy(&c, c1, C1_LEN);
	c2 = cur_rest(&c, &c2_len);
	if ((r = cur_status(&c)) != 0)
		return r;
	if (c2_len <= AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if ((r = dh_public_check(e_pub)) != 0)
		return r;
	ad[0] = SEALED_VERSION;
	memcpy(ad + 1, e_pub, DH_PUBLIC_LEN);
	memcpy(ad + 1 + DH_PUBLIC_LEN, c1, C1_LEN);
	if ((padded = malloc(c2_len - AEAD_TAG_LEN)) == NULL)
		return SOTTO_ERR_NOMEM;
	/* Layer 1: who sent it. */
	if ((r = dh_shared(dh, recipient->dh_sec, e_pub)) != 0 ||
	    (r = sealed_eph_keys(&k, dh, e_pub, recipient->pub)) != 0 ||
	    (r = aead_open(o->sender_ident, c1, C1_LEN, ad, 1 + DH_PUBLIC_LEN,
	    k.k1 + AEAD_KEY_LEN, k.k1)) != 0)
		goto out;
	/* Layer 2: only the holder of that identity's secret could have keyed this. */
	if ((r = sign_pk_to_dh(s_dh, o->sender_ident)) != 0 ||
	    (r = dh_shared(dh, recipient->dh_sec, s_dh)) != 0 ||
	    (r = sealed_static_keys(&k, dh, c1)) != 0 ||
	    (r = aead_open(padded, c2, c2_len, ad, sizeof(ad), k.k2 + AEAD_KEY_LEN, k.k2)) != 0)
		goto out;
	if ((r = pad_remove(&n, padded, c2_len - AEAD_TAG_LEN)) != 0)
		goto out;
	r = sealed_content_parse(o, padded, n);
out:
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(padded, c2_len - AEAD_TAG_LEN);
	free(padded);
	if (r != 0)
		sealed_opened_free(o);
	return r;
}

void
sealed_opened_free(struct sealed_opened *o)
{
	if (o->msg != NULL) {
		sodium_memzero(o->msg, o->msg_len);
		free(o->msg);
	}
	sodium_memzero(o, sizeof(*o));
}
