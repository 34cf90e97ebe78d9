/*
 * The Noise handshake (specification revision 34, sections 5 and 7) over 25519,
 * ChaChaPoly and BLAKE2b. Patterns are data: pre-message keys and token lists per message.
 */
#include "wire/noise.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

enum noise_token { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS, TOK_PSK };

struct noise_pattern {
	const char *name;
	uint8_t pre_init_s;     /* "-> s" before the handshake */
	uint8_t pre_resp_s;     /* "<- s" before the handshake */
	uint8_t n_msgs;
	uint8_t msgs[NOISE_MAX_MSGS][NOISE_MAX_TOKENS];
};

#define E TOK_E
#define S TOK_S
#define EE TOK_EE
#define ES TOK_ES
#define SE TOK_SE
#define SS TOK_SS
static const struct noise_pattern patterns[] = {
	{ "NN", 0, 0, 2, { { E }, { E, EE } } },
	{ "NK", 0, 1, 2, { { E, ES }, { E, EE } } },
	{ "NX", 0, 0, 2, { { E }, { E, EE, S, ES } } },
	{ "XN", 0, 0, 3, { { E }, { E, EE }, { S, SE } } },
	{ "XK", 0, 1, 3, { { E, ES }, { E, EE }, { S, SE } } },
	{ "XX", 0, 0, 3, { { E }, { E, EE, S, ES }, { S, SE } } },
	{ "KN", 1, 0, 2, { { E }, { E, EE, SE } } },
	{ "KK", 1, 1, 2, { { E, ES, SS }, { E, EE, SE } } },
	{ "KX", 1, 0, 2, { { E }, { E, EE, SE, S, ES } } },
	{ "IN", 0, 0, 2, { { E, S }, { E, EE, SE } } },
	{ "IK", 0, 1, 2, { { E, ES, S, SS }, { E, EE, SE } } },
	{ "IX", 0, 0, 2, { { E, S }, { E, EE, SE, S, ES } } },
};
#undef E
#undef S
#undef EE
#undef ES
#undef SE
#undef SS

#define SUITE "_25519_ChaChaPoly_BLAKE2b"

/*
 * A base pattern name, optionally with one psk modifier ("NNpsk0"): *psk_pos is -1 without
 * one, else N of pskN (0: before the first message's tokens; N: after message N's last).
 */
static const struct noise_pattern *
pattern_find(const char *name, int *psk_pos)
{
	size_t i, blen;

	*psk_pos = -1;
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		blen = strlen(patterns[i].name);
		if (strncmp(patterns[i].name, name, blen) != 0)
			continue;
		if (name[blen] == '\0')
			return &patterns[i];
		if (strncmp(name + blen, "psk", 3) == 0 && name[blen + 3] >= '0' &&
		    name[blen + 3] <= '0' + patterns[i].n_msgs && name[blen + 4] == '\0') {
			*psk_pos = name[blen + 3] - '0';
			return &patterns[i];
		}
	}
	return NULL;
}

/* Copies the pattern's token lists into hs, inserting the psk token where it goes. */
static void
pattern_expand(struct noise_hs *hs, const struct noise_pattern *p, int psk_pos)
{
	unsigned m, t, o;

	memset(hs->toks, 0, sizeof(hs->toks));
	for (m = 0; m < p->n_msgs; m++) {
		o = 0;
		if (psk_pos == 0 && m == 0)
			hs->toks[m][o++] = TOK_PSK;
		for (t = 0; t < NOISE_MAX_TOKENS - 1 && p->msgs[m][t] != TOK_END; t++)
			hs->toks[m][o++] = p->msgs[m][t];
		if (psk_pos > 0 && (unsigned)psk_pos == m + 1)
			hs->toks[m][o++] = TOK_PSK;
	}
}

/* Whether a side sends a static key during the handshake (token "s"). */
static int
pattern_sends_s(const struct noise_pattern *p, int initiator)
{
	unsigned m, t;

	for (m = initiator ? 0 : 1; m < p->n_msgs; m += 2)
		for (t = 0; t < NOISE_MAX_TOKENS && p->msgs[m][t] != TOK_END; t++)
			if (p->msgs[m][t] == TOK_S)
				return 1;
	return 0;
}

static void
mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, hs->h, sizeof(hs->h));
	crypto_generichash_blake2b_update(&st, data, len);
	crypto_generichash_blake2b_final(&st, hs->h, sizeof(hs->h));
}

static void
mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_HASH_LEN], k[NOISE_HASH_LEN];

	noise_hkdf(hs->ck, ikm, len, ck, k, NULL);
	memcpy(hs->ck, ck, sizeof(ck));
	/* HASHLEN 64: the cipher key is the first 32 bytes. */
	memcpy(hs->cs.k, k, NOISE_KEY_LEN);
	hs->cs.n = 0;
	hs->cs.has_key = 1;
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
}

/* MixKeyAndHash(psk), the "psk" token (section 9.2). */
static int
mix_psk(struct noise_hs *hs)
{
	uint8_t ck[NOISE_HASH_LEN], th[NOISE_HASH_LEN], k[NOISE_HASH_LEN];

	if (!hs->has_psk)
		return SOTTO_ERR_STATE;
	noise_hkdf(hs->ck, hs->psk, NOISE_KEY_LEN, ck, th, k);
	memcpy(hs->ck, ck, sizeof(ck));
	mix_hash(hs, th, sizeof(th));
	memcpy(hs->cs.k, k, NOISE_KEY_LEN);
	hs->cs.n = 0;
	hs->cs.has_key = 1;
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(th, sizeof(th));
	sodium_memzero(k, sizeof(k));
	/* The psk is used once. */
	sodium_memzero(hs->psk, sizeof(hs->psk));
	return 0;
}

/* The "e" token: MixHash(e), and with a psk modifier also MixKey(e) (section 9.2). */
static void
mix_ephemeral(struct noise_hs *hs, const uint8_t e[NOISE_KEY_LEN])
{
	mix_hash(hs, e, NOISE_KEY_LEN);
	if (hs->psk_mode)
		mix_key(hs, e, NOISE_KEY_LEN);
}

/* EncryptAndHash: out receives len (+ tag once a key exists) bytes. */
static int
encrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *out,
    size_t *out_len)
{
	int r;

	if (hs->cs.has_key) {
		if ((r = noise_encrypt(&hs->cs, hs->h, sizeof(hs->h), in, len, out)) != 0)
			return r;
		*out_len = len + NOISE_TAG_LEN;
	} else {
		if (len > 0)
			memmove(out, in, len);
		*out_len = len;
	}
	mix_hash(hs, out, *out_len);
	return 0;
}

static int
decrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t ad[NOISE_HASH_LEN];
	int r;

	/* MixHash takes the ciphertext, which out may overwrite: hash first, decrypt with
	 * the previous h as associated data. */
	memcpy(ad, hs->h, sizeof(ad));
	mix_hash(hs, in, len);
	if (hs->cs.has_key) {
		if ((r = noise_decrypt(&hs->cs, ad, sizeof(ad), in, len, out)) != 0)
			return r;
	} else if (len > 0) {
		memmove(out, in, len);
	}
	return 0;
}

static int
dh(struct noise_hs *hs, const uint8_t priv[NOISE_KEY_LEN], const uint8_t pub[NOISE_KEY_LEN])
{
	uint8_t shared[NOISE_KEY_LEN];

	/* libsodium refuses an all-zero result (a low-order public key). */
	if (crypto_scalarmult(shared, priv, pub) != 0) {
		sodium_memzero(shared, sizeof(shared));
		return SOTTO_ERR_BAD_KEY;
	}
	mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return 0;
}

static int
token_dh(struct noise_hs *hs, int tok)
{
	/* Token letters name the initiator's key first: "es" is initiator e with responder s. */
	int local_e = tok == TOK_EE || (hs->initiator ? tok == TOK_ES : tok == TOK_SE);
	int remote_e = tok == TOK_EE || (hs->initiator ? tok == TOK_SE : tok == TOK_ES);
	const uint8_t *priv, *pub;

	if (local_e ? !hs->has_e : !hs->has_s)
		return SOTTO_ERR_STATE;
	if (remote_e ? !hs->has_re : !hs->has_rs)
		return SOTTO_ERR_STATE;
	priv = local_e ? hs->e_priv : hs->s_priv;
	pub = remote_e ? hs->re : hs->rs;
	return dh(hs, priv, pub);
}

static int
hs_init(struct noise_hs *hs, const char *pattern, int initiator, const uint8_t *prologue,
    size_t prologue_len, const uint8_t *s_priv, const uint8_t *s_pub, const uint8_t *rs)
{
	const struct noise_pattern *p;
	char name[NOISE_HASH_LEN + 1];
	int need_s, need_rs, psk_pos, n;

	memset(hs, 0, sizeof(*hs));
	if (pattern == NULL || (p = pattern_find(pattern, &psk_pos)) == NULL)
		return SOTTO_ERR_UNSUPPORTED;
	need_s = pattern_sends_s(p, initiator) || (initiator ? p->pre_init_s : p->pre_resp_s);
	need_rs = initiator ? p->pre_resp_s : p->pre_init_s;
	if (need_s != (s_priv != NULL) || need_rs != (rs != NULL))
		return SOTTO_ERR_INVALID_ARG;
	if (prologue == NULL && prologue_len > 0)
		return SOTTO_ERR_INVALID_ARG;

	hs->pat = p;
	pattern_expand(hs, p, psk_pos);
	hs->psk_mode = psk_pos >= 0;
	hs->initiator = initiator ? 1 : 0;
	if (s_priv != NULL) {
		memcpy(hs->s_priv, s_priv, NOISE_KEY_LEN);
		if (s_pub != NULL)
			memcpy(hs->s_pub, s_pub, NOISE_KEY_LEN);
		else
			crypto_scalarmult_base(hs->s_pub, hs->s_priv);
		hs->has_s = 1;
	}
	if (rs != NULL) {
		memcpy(hs->rs, rs, NOISE_KEY_LEN);
		hs->has_rs = 1;
	}

	/* InitializeSymmetric: the name fits in HASHLEN, so h is the name zero-padded. */
	n = snprintf(name, sizeof(name), "Noise_%s%s", pattern, SUITE);
	_Static_assert(sizeof("Noise_XXpsk3" SUITE) <= NOISE_HASH_LEN, "name fits h");
	if (n < 0 || (size_t)n > NOISE_HASH_LEN)
		return SOTTO_ERR_UNSUPPORTED;
	memcpy(hs->h, name, (size_t)n);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	mix_hash(hs, prologue, prologue_len);

	/* Pre-messages: the initiator's keys first, then the responder's. */
	if (p->pre_init_s)
		mix_hash(hs, initiator ? hs->s_pub : hs->rs, NOISE_KEY_LEN);
	if (p->pre_resp_s)
		mix_hash(hs, initiator ? hs->rs : hs->s_pub, NOISE_KEY_LEN);
	return 0;
}

int
noise_hs_init(struct noise_hs *hs, const char *pattern, int initiator,
    const uint8_t *prologue, size_t prologue_len, const uint8_t *s_priv, const uint8_t *rs)
{
	return hs_init(hs, pattern, initiator, prologue, prologue_len, s_priv, NULL, rs);
}

void
noise_hs_fix_ephemeral(struct noise_hs *hs, const uint8_t e_priv[NOISE_KEY_LEN])
{
	memcpy(hs->e_priv, e_priv, NOISE_KEY_LEN);
	hs->fixed_e = 1;
}

void
noise_hs_set_psk(struct noise_hs *hs, const uint8_t psk[NOISE_KEY_LEN])
{
	memcpy(hs->psk, psk, NOISE_KEY_LEN);
	hs->has_psk = 1;
}

void
noise_hs_pin_remote_static(struct noise_hs *hs, const uint8_t rs[NOISE_KEY_LEN])
{
	memcpy(hs->pin_rs, rs, NOISE_KEY_LEN);
	hs->has_pin = 1;
}

int
noise_hs_finished(const struct noise_hs *hs)
{
	return hs->pat != NULL && !hs->failed && hs->msg >= hs->pat->n_msgs;
}

int
noise_hs_my_turn(const struct noise_hs *hs)
{
	if (hs->pat == NULL || hs->failed || noise_hs_finished(hs))
		return 0;
	return (hs->msg % 2 == 0) == (hs->initiator == 1);
}

size_t
noise_hs_next_len(const struct noise_hs *hs, size_t payload_len)
{
	const struct noise_pattern *p = hs->pat;
	int keyed = 0;
	size_t len = 0;
	unsigned m, t;

	if (p == NULL || hs->msg >= p->n_msgs)
		return 0;
	for (m = 0; m <= hs->msg; m++) {
		for (t = 0; t < NOISE_MAX_TOKENS && hs->toks[m][t] != TOK_END; t++) {
			int tok = hs->toks[m][t];

			if (m == hs->msg && tok == TOK_E)
				len += NOISE_KEY_LEN;
			else if (m == hs->msg && tok == TOK_S)
				len += NOISE_KEY_LEN + (keyed ? NOISE_TAG_LEN : 0);
			/* e keys the cipher too when a psk is used (MixKey(e)). */
			if (tok != TOK_E && tok != TOK_S)
				keyed = 1;
			else if (tok == TOK_E && hs->psk_mode)
				keyed = 1;
		}
	}
	return len + payload_len + (keyed ? NOISE_TAG_LEN : 0);
}

int
noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t payload_len,
    uint8_t *out, size_t cap, size_t *out_len)
{
	const uint8_t *toks;
	size_t off = 0, n;
	unsigned t;
	int r = SOTTO_ERR_INTERNAL;

	*out_len = 0;
	if (!noise_hs_my_turn(hs))
		return SOTTO_ERR_STATE;
	if (noise_hs_next_len(hs, payload_len) > cap ||
	    noise_hs_next_len(hs, payload_len) > NOISE_MSG_MAX)
		return SOTTO_ERR_TOO_LARGE;

	toks = hs->toks[hs->msg];
	for (t = 0; t < NOISE_MAX_TOKENS && toks[t] != TOK_END; t++) {
		switch (toks[t]) {
		case TOK_E:
			if (!hs->fixed_e)
				randombytes_buf(hs->e_priv, NOISE_KEY_LEN);
			crypto_scalarmult_base(hs->e_pub, hs->e_priv);
			hs->has_e = 1;
			memcpy(out + off, hs->e_pub, NOISE_KEY_LEN);
			off += NOISE_KEY_LEN;
			mix_ephemeral(hs, hs->e_pub);
			break;
		case TOK_PSK:
			if ((r = mix_psk(hs)) != 0)
				goto fail;
			break;
		case TOK_S:
			if ((r = encrypt_and_hash(hs, hs->s_pub, NOISE_KEY_LEN, out + off, &n)) != 0)
				goto fail;
			off += n;
			break;
		default:
			if ((r = token_dh(hs, toks[t])) != 0)
				goto fail;
			break;
		}
	}
	if ((r = encrypt_and_hash(hs, payload, payload_len, out + off, &n)) != 0)
		goto fail;
	off += n;
	*out_len = off;
	hs->msg++;
	return 0;
fail:
	hs->failed = 1;
	sodium_memzero(out, cap);
	return r;
}

int
noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
    size_t cap, size_t *payload_len)
{
	const uint8_t *toks, *p;
	struct cur c;
	size_t n;
	unsigned t;
	int r = SOTTO_ERR_INTERNAL;

	*payload_len = 0;
	if (hs->pat == NULL || hs->failed || noise_hs_finished(hs) || noise_hs_my_turn(hs))
		return SOTTO_ERR_STATE;
	if (len > NOISE_MSG_MAX)
		return SOTTO_ERR_TOO_LARGE;
	/* The whole message must at least hold its keys and tags. */
	if (len < noise_hs_next_len(hs, 0)) {
		r = SOTTO_ERR_TRUNCATED;
		goto fail;
	}
	if (len - noise_hs_next_len(hs, 0) > cap) {
		r = SOTTO_ERR_TOO_LARGE;
		goto fail;
	}

	cur_init(&c, msg, len);
	toks = hs->toks[hs->msg];
	for (t = 0; t < NOISE_MAX_TOKENS && toks[t] != TOK_END; t++) {
		switch (toks[t]) {
		case TOK_E:
			cur_copy(&c, hs->re, NOISE_KEY_LEN);
			if ((r = cur_status(&c)) != 0)
				goto fail;
			hs->has_re = 1;
			mix_ephemeral(hs, hs->re);
			break;
		case TOK_PSK:
			if ((r = mix_psk(hs)) != 0)
				goto fail;
			break;
		case TOK_S:
			n = NOISE_KEY_LEN + (hs->cs.has_key ? NOISE_TAG_LEN : 0);
			if ((p = cur_ref(&c, n)) == NULL) {
				r = SOTTO_ERR_TRUNCATED;
				goto fail;
			}
			if ((r = decrypt_and_hash(hs, p, n, hs->rs)) != 0)
				goto fail;
			hs->has_rs = 1;
			/* A pinned peer: refuse any other key before using it. */
			if (hs->has_pin && sodium_memcmp(hs->rs, hs->pin_rs, NOISE_KEY_LEN) != 0) {
				r = SOTTO_ERR_AUTH;
				goto fail;
			}
			break;
		default:
			if ((r = token_dh(hs, toks[t])) != 0)
				goto fail;
			break;
		}
	}
	p = cur_rest(&c, &n);
	if ((r = cur_finish(&c)) != 0)
		goto fail;
	if (hs->cs.has_key && n < NOISE_TAG_LEN) {
		r = SOTTO_ERR_TRUNCATED;
		goto fail;
	}
	if ((r = decrypt_and_hash(hs, p, n, payload)) != 0)
		goto fail;
	if (hs->cs.has_key)
		n -= NOISE_TAG_LEN;
	*payload_len = n;
	hs->msg++;
	return 0;
fail:
	hs->failed = 1;
	if (cap > 0)
		sodium_memzero(payload, cap);
	return r;
}

int
noise_hs_split(struct noise_hs *hs, struct noise_transport *t)
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];

	if (!noise_hs_finished(hs))
		return SOTTO_ERR_STATE;
	noise_hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	memset(t, 0, sizeof(*t));
	memcpy(hs->initiator ? t->tx.k : t->rx.k, k1, NOISE_KEY_LEN);
	memcpy(hs->initiator ? t->rx.k : t->tx.k, k2, NOISE_KEY_LEN);
	t->tx.has_key = t->rx.has_key = 1;
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	/* The handshake's secrets are no longer needed; h and rs stay for the caller. */
	sodium_memzero(hs->ck, sizeof(hs->ck));
	sodium_memzero(&hs->cs, sizeof(hs->cs));
	sodium_memzero(hs->s_priv, sizeof(hs->s_priv));
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	sodium_memzero(hs->psk, sizeof(hs->psk));
	return 0;
}

int
noise_hs_remote_static(const struct noise_hs *hs, uint8_t out[NOISE_KEY_LEN])
{
	if (!hs->has_rs || hs->failed)
		return SOTTO_ERR_STATE;
	memcpy(out, hs->rs, NOISE_KEY_LEN);
	return 0;
}

const uint8_t *
noise_hs_hash(const struct noise_hs *hs)
{
	return hs->h;
}

void
noise_hs_wipe(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

int
noise_sotto_initiator(struct noise_hs *hs, const uint8_t device_sk[NOISE_KEY_LEN],
    const uint8_t server_ed_pk[32])
{
	uint8_t server_x[NOISE_KEY_LEN];
	int r;

	if (crypto_sign_ed25519_pk_to_curve25519(server_x, server_ed_pk) != 0)
		return SOTTO_ERR_BAD_KEY;
	r = noise_hs_init(hs, NOISE_SOTTO_PATTERN, 1, (const uint8_t *)NOISE_SOTTO_PROLOGUE,
	    strlen(NOISE_SOTTO_PROLOGUE), device_sk, NULL);
	if (r == 0)
		noise_hs_pin_remote_static(hs, server_x);
	return r;
}

int
noise_sotto_initiator_keys(struct noise_hs *hs, const uint8_t device_sk[NOISE_KEY_LEN],
    const uint8_t device_pk[NOISE_KEY_LEN], const uint8_t server_x[NOISE_KEY_LEN])
{
	int r;

	r = hs_init(hs, NOISE_SOTTO_PATTERN, 1, (const uint8_t *)NOISE_SOTTO_PROLOGUE,
	    strlen(NOISE_SOTTO_PROLOGUE), device_sk, device_pk, NULL);
	if (r == 0)
		noise_hs_pin_remote_static(hs, server_x);
	return r;
}

int
noise_keypair_from_ed25519(struct noise_keypair *kp, const uint8_t ed_sk[64])
{
	if (crypto_sign_ed25519_sk_to_curve25519(kp->priv, ed_sk) != 0) {
		noise_keypair_wipe(kp);
		return SOTTO_ERR_BAD_KEY;
	}
	crypto_scalarmult_base(kp->pub, kp->priv);
	return 0;
}

void
noise_keypair_wipe(struct noise_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

int
noise_sotto_responder_keypair(struct noise_hs *hs, const struct noise_keypair *server)
{
	return hs_init(hs, NOISE_SOTTO_PATTERN, 0, (const uint8_t *)NOISE_SOTTO_PROLOGUE,
	    strlen(NOISE_SOTTO_PROLOGUE), server->priv, server->pub, NULL);
}

int
noise_sealed_initiator(struct noise_hs *hs, const uint8_t server_ed_pk[32])
{
	uint8_t server_x[NOISE_KEY_LEN];

	if (crypto_sign_ed25519_pk_to_curve25519(server_x, server_ed_pk) != 0)
		return SOTTO_ERR_BAD_KEY;
	return noise_hs_init(hs, NOISE_SEALED_PATTERN, 1, (const uint8_t *)NOISE_SOTTO_PROLOGUE,
	    strlen(NOISE_SOTTO_PROLOGUE), NULL, server_x);
}

int
noise_sealed_responder(struct noise_hs *hs, const struct noise_keypair *server)
{
	return hs_init(hs, NOISE_SEALED_PATTERN, 0, (const uint8_t *)NOISE_SOTTO_PROLOGUE,
	    strlen(NOISE_SOTTO_PROLOGUE), server->priv, server->pub, NULL);
}

int
noise_sotto_responder(struct noise_hs *hs, const uint8_t server_ed_sk[64])
{
	struct noise_keypair kp;
	int r;

	if ((r = noise_keypair_from_ed25519(&kp, server_ed_sk)) != 0)
		return r;
	r = noise_sotto_responder_keypair(hs, &kp);
	noise_keypair_wipe(&kp);
	return r;
}
