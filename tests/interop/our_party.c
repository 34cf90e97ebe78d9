#include "our_party.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "suite_signal.h"

int
our_party_init(struct our_party *p, unsigned nopk)
{
	unsigned i;
	int r;

	memset(p, 0, sizeof(*p));
	if (nopk > OUR_OPK_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = suite_signal_identity_generate(&p->id)) != 0)
		goto fail;
	/* libsignal's default range: 1..16380. */
	p->registration_id = 1 + randombytes_uniform(16380);
	if ((r = x3dh_keypair_generate(&p->spk, 1)) != 0)
		goto fail;
	for (i = 0; i < nopk; i++) {
		if ((r = x3dh_keypair_generate(&p->opk[i], i + 1)) != 0)
			goto fail;
		p->opk_live[i] = 1;
	}
	p->nopk = nopk;
	return 0;
fail:
	our_party_wipe(p);
	return r;
}

void
our_party_wipe(struct our_party *p)
{
	unsigned i;

	e2e_session_free(p->sess);
	p->sess = NULL;
	x3dh_identity_wipe(&p->id);
	x3dh_keypair_wipe(&p->spk);
	for (i = 0; i < OUR_OPK_MAX; i++)
		x3dh_keypair_wipe(&p->opk[i]);
	sodium_memzero(p, sizeof(*p));
}

int
our_party_bundle(struct our_party *p, struct sig_bundle *out, int with_opk, uint32_t opk_id)
{
	struct x3dh_bundle b;
	const struct x3dh_keypair *opk = NULL;
	int r;

	if (with_opk) {
		if (opk_id < 1 || opk_id > p->nopk || !p->opk_live[opk_id - 1])
			return SOTTO_ERR_NOT_FOUND;
		opk = &p->opk[opk_id - 1];
	}
	if ((r = x3dh_bundle_make(&suite_signal, &b, &p->id, p->registration_id, &p->spk,
	    opk)) != 0)
		return r;
	if (b.ident_pub_len != SIG_KEY_LEN)
		return SOTTO_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	out->registration_id = b.registration_id;
	memcpy(out->identity_key, b.ident_pub, SIG_KEY_LEN);
	out->signed_prekey_id = b.spk_id;
	suite_signal_encode_key(out->signed_prekey, b.spk_pub);
	memcpy(out->signed_prekey_sig, b.spk_sig, SIG_SIG_LEN);
	out->has_prekey = b.has_opk;
	out->prekey_id = b.opk_id;
	if (b.has_opk)
		suite_signal_encode_key(out->prekey, b.opk_pub);
	return 0;
}

static int
decode_key(uint8_t out[32], const uint8_t in[SIG_KEY_LEN])
{
	if (in[0] != 0x05)
		return SOTTO_ERR_BAD_KEY;
	memcpy(out, in + 1, 32);
	return 0;
}

int
our_party_initiate(struct our_party *p, const struct sig_bundle *in)
{
	struct e2e_session_opts opts = { .max_skip = p->max_skip,
	    .local_registration_id = p->registration_id };
	struct x3dh_bundle b;
	int r;

	if (p->sess != NULL)
		return SOTTO_ERR_STATE;
	memset(&b, 0, sizeof(b));
	memcpy(b.ident_pub, in->identity_key, SIG_KEY_LEN);
	b.ident_pub_len = SIG_KEY_LEN;
	b.registration_id = in->registration_id;
	b.spk_id = in->signed_prekey_id;
	if ((r = decode_key(b.spk_pub, in->signed_prekey)) != 0)
		return r;
	memcpy(b.spk_sig, in->signed_prekey_sig, SIG_SIG_LEN);
	if (in->has_prekey) {
		b.has_opk = 1;
		b.opk_id = in->prekey_id;
		if ((r = decode_key(b.opk_pub, in->prekey)) != 0)
			return r;
	}
	return e2e_session_initiate(&p->sess, &suite_signal, &p->id, &b, &opts);
}

static int
buf_take(struct buf *b, uint8_t **out, size_t *out_len)
{
	if ((*out = malloc(b->len ? b->len : 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (b->len)
		memcpy(*out, b->p, b->len);
	*out_len = b->len;
	return 0;
}

int
our_party_encrypt(struct our_party *p, const uint8_t *pt, size_t len, uint8_t **out,
    size_t *out_len, int *is_prekey)
{
	struct buf b;
	int type = 0, r;

	*out = NULL;
	*out_len = 0;
	if (p->sess == NULL)
		return SOTTO_ERR_NO_SESSION;
	buf_init_dyn(&b, RATCHET_MSG_MAX + 1024);
	if ((r = e2e_session_encrypt(p->sess, &b, &type, pt, len)) == 0 &&
	    (r = buf_take(&b, out, out_len)) == 0)
		*is_prekey = type == E2E_SESSION_MSG_PREKEY;
	buf_free(&b);
	return r;
}

static const struct x3dh_keypair *
find_opk(struct our_party *p, uint32_t id)
{
	if (id < 1 || id > p->nopk || !p->opk_live[id - 1])
		return NULL;
	return &p->opk[id - 1];
}

int
our_party_decrypt(struct our_party *p, int is_prekey, const uint8_t *msg, size_t len,
    uint8_t **pt, size_t *pt_len)
{
	struct e2e_session_opts opts = { .max_skip = p->max_skip,
	    .local_registration_id = p->registration_id };
	struct x3dh_init_info info;
	const struct x3dh_keypair *opk = NULL;
	struct buf b;
	int r;

	*pt = NULL;
	*pt_len = 0;
	buf_init_dyn(&b, RATCHET_PLAINTEXT_MAX);
	if (p->sess != NULL) {
		r = e2e_session_decrypt(p->sess, &b, is_prekey ? E2E_SESSION_MSG_PREKEY : E2E_SESSION_MSG_NORMAL,
		    msg, len);
	} else if (!is_prekey) {
		r = SOTTO_ERR_NO_SESSION;
	} else {
		if ((r = e2e_session_prekey_info(&suite_signal, &info, msg, len)) != 0)
			goto out;
		if (info.spk_id != p->spk.id) {
			r = SOTTO_ERR_NOT_FOUND;
			goto out;
		}
		if (info.has_opk && (opk = find_opk(p, info.opk_id)) == NULL) {
			r = SOTTO_ERR_NOT_FOUND;
			goto out;
		}
		if ((r = e2e_session_respond(&p->sess, &suite_signal, &p->id, &p->spk, opk, msg, len,
		    &b, &opts)) != 0)
			goto out;
		/* A one-time prekey is used once: gone as soon as a session came from it. */
		if (opk != NULL) {
			p->opk_live[info.opk_id - 1] = 0;
			x3dh_keypair_wipe(&p->opk[info.opk_id - 1]);
		}
	}
	if (r == 0)
		r = buf_take(&b, pt, pt_len);
out:
	buf_wipe_free(&b);
	return r;
}

int
our_party_state(struct our_party *p, uint8_t **out, size_t *out_len)
{
	struct buf b;
	int r;

	*out = NULL;
	*out_len = 0;
	if (p->sess == NULL)
		return SOTTO_ERR_NO_SESSION;
	buf_init_dyn(&b, 64u << 20);
	if ((r = e2e_session_serialize(p->sess, &b)) == 0)
		r = buf_take(&b, out, out_len);
	buf_wipe_free(&b);
	return r;
}

int
our_party_reload(struct our_party *p)
{
	struct e2e_session *s2 = NULL;
	uint8_t *st = NULL;
	size_t n = 0;
	int r;

	if ((r = our_party_state(p, &st, &n)) != 0)
		return r;
	if ((r = e2e_session_deserialize(&s2, &suite_signal, st, n)) == 0) {
		e2e_session_free(p->sess);
		p->sess = s2;
	}
	sodium_memzero(st, n);
	free(st);
	return r;
}
