#include "client/store_record.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

_Static_assert(STORE_REC_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(STORE_REC_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(STORE_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");

static const char rec_domain[] = "sotto.store.record.v1";

#define AD_MAX (sizeof(rec_domain) + 1 + STORE_REC_TABLE_MAX + STORE_REC_ROWKEY_MAX)

/* AD = domain || 0 || len(table) || table || rowkey: a record belongs to exactly one row. */
static int
rec_ad(uint8_t ad[AD_MAX], size_t *ad_len, const char *table, const uint8_t *rowkey,
    size_t rowkey_len)
{
	size_t tlen = strlen(table);
	struct buf b;

	if (tlen == 0 || tlen > STORE_REC_TABLE_MAX || rowkey_len > STORE_REC_ROWKEY_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_fixed(&b, ad, AD_MAX);
	buf_put(&b, rec_domain, sizeof(rec_domain));
	buf_u8(&b, (uint8_t)tlen);
	buf_put(&b, table, tlen);
	buf_put(&b, rowkey, rowkey_len);
	*ad_len = b.len;
	return buf_status(&b);
}

int
store_rec_seal(const uint8_t key[STORE_KEY_LEN], const char *table, const uint8_t *rowkey,
    size_t rowkey_len, const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
	uint8_t ad[AD_MAX];
	size_t ad_len = 0;
	uint8_t *r;
	int e;

	*out = NULL;
	*out_len = 0;
	if ((e = rec_ad(ad, &ad_len, table, rowkey, rowkey_len)) != 0)
		return e;
	if (pt_len > SIZE_MAX - STORE_REC_OVERHEAD)
		return SOTTO_ERR_TOO_LARGE;
	if ((r = malloc(pt_len + STORE_REC_OVERHEAD)) == NULL)
		return SOTTO_ERR_NOMEM;
	r[0] = STORE_REC_VERSION;
	randombytes_buf(r + 1, STORE_REC_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(r + 1 + STORE_REC_NONCE_LEN, NULL,
	    pt, pt_len, ad, ad_len, NULL, r + 1, key);
	*out = r;
	*out_len = pt_len + STORE_REC_OVERHEAD;
	return 0;
}

int
store_rec_open(const uint8_t key[STORE_KEY_LEN], const char *table, const uint8_t *rowkey,
    size_t rowkey_len, const uint8_t *rec, size_t rec_len, size_t max, uint8_t **pt,
    size_t *pt_len)
{
	uint8_t ad[AD_MAX];
	size_t ad_len = 0, ct_len = 0;
	const uint8_t *nonce, *ct;
	struct cur c;
	uint8_t *p;
	int e;

	*pt = NULL;
	*pt_len = 0;
	if ((e = rec_ad(ad, &ad_len, table, rowkey, rowkey_len)) != 0)
		return e;
	cur_init(&c, rec, rec_len);
	if (cur_u8(&c) != STORE_REC_VERSION)
		return SOTTO_ERR_CORRUPT;
	nonce = cur_ref(&c, STORE_REC_NONCE_LEN);
	ct = cur_rest(&c, &ct_len);
	if (cur_finish(&c) != 0 || nonce == NULL || ct_len < STORE_REC_TAG_LEN ||
	    ct_len - STORE_REC_TAG_LEN > max)
		return SOTTO_ERR_CORRUPT;
	/* +1 so an empty plaintext still gets a distinct allocation. */
	if ((p = malloc(ct_len - STORE_REC_TAG_LEN + 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, ct, ct_len, ad, ad_len,
	    nonce, key) != 0) {
		free(p);
		return SOTTO_ERR_CORRUPT;
	}
	*pt = p;
	*pt_len = ct_len - STORE_REC_TAG_LEN;
	return 0;
}

/* ---- strings: lv16, no NUL inside, at most max bytes ---- */

static void
put_str(struct buf *b, const char *s)
{
	buf_lv16(b, s, strlen(s));
}

static void
get_str(struct cur *c, char *out, size_t max)
{
	size_t n = 0;
	const uint8_t *p = cur_lv16(c, max, &n);

	out[0] = '\0';
	if (p == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

static int
finish(struct cur *c)
{
	return cur_finish(c) == 0 ? 0 : SOTTO_ERR_CORRUPT;
}

/* identity: address, server, reg_state, identity pk/sk, device pk/sk, bridge hash */

void
store_identity_encode(struct buf *b, const struct store_identity *id)
{
	put_str(b, id->address);
	put_str(b, id->server);
	buf_u8(b, id->reg_state);
	buf_put(b, id->identity_pk, sizeof(id->identity_pk));
	buf_put(b, id->identity_sk, sizeof(id->identity_sk));
	buf_put(b, id->device_pk, sizeof(id->device_pk));
	buf_put(b, id->device_sk, sizeof(id->device_sk));
	put_str(b, id->bridge_pw_hash);
}

int
store_identity_decode(const uint8_t *p, size_t n, struct store_identity *out)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, n);
	get_str(&c, out->address, STORE_ADDR_MAX);
	get_str(&c, out->server, STORE_SERVER_MAX);
	out->reg_state = cur_u8(&c);
	cur_copy(&c, out->identity_pk, sizeof(out->identity_pk));
	cur_copy(&c, out->identity_sk, sizeof(out->identity_sk));
	cur_copy(&c, out->device_pk, sizeof(out->device_pk));
	cur_copy(&c, out->device_sk, sizeof(out->device_sk));
	get_str(&c, out->bridge_pw_hash, STORE_PWHASH_MAX);
	if (out->reg_state > STORE_REG_REGISTERED)
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if (finish(&c) != 0) {
		store_identity_wipe(out);
		return SOTTO_ERR_CORRUPT;
	}
	return 0;
}

/* key pair (and optional signature): pk || sk [|| sig] */

void
store_keypair_encode(struct buf *b, const uint8_t pk[STORE_KEY_LEN],
    const uint8_t sk[STORE_KEY_LEN], const uint8_t *sig)
{
	buf_put(b, pk, STORE_KEY_LEN);
	buf_put(b, sk, STORE_KEY_LEN);
	if (sig != NULL)
		buf_put(b, sig, STORE_SIG_LEN);
}

int
store_keypair_decode(const uint8_t *p, size_t n, uint8_t pk[STORE_KEY_LEN],
    uint8_t sk[STORE_KEY_LEN], uint8_t *sig)
{
	struct cur c;

	cur_init(&c, p, n);
	cur_copy(&c, pk, STORE_KEY_LEN);
	cur_copy(&c, sk, STORE_KEY_LEN);
	if (sig != NULL)
		cur_copy(&c, sig, STORE_SIG_LEN);
	if (finish(&c) != 0) {
		sodium_memzero(sk, STORE_KEY_LEN);
		return SOTTO_ERR_CORRUPT;
	}
	return 0;
}

/* contact */

void
store_contact_encode(struct buf *b, const struct store_contact *c)
{
	put_str(b, c->address);
	buf_put(b, c->identity_pk, sizeof(c->identity_pk));
	buf_u8(b, c->verified);
	buf_u8(b, c->trust);
	buf_u64(b, c->first_seen);
	buf_u64(b, c->changed_at);
	buf_u32(b, c->expiry_seconds);
	buf_u64(b, c->send_seq);
	buf_u64(b, c->recv_seq);
	buf_u8(b, c->token_state);
	buf_put(b, c->token, sizeof(c->token));
	buf_u64(b, c->token_seq);
	buf_u32(b, c->token_given);
}

int
store_contact_decode(const uint8_t *p, size_t n, struct store_contact *out)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, n);
	get_str(&c, out->address, STORE_ADDR_MAX);
	cur_copy(&c, out->identity_pk, sizeof(out->identity_pk));
	out->verified = cur_u8(&c);
	out->trust = cur_u8(&c);
	out->first_seen = cur_u64(&c);
	out->changed_at = cur_u64(&c);
	out->expiry_seconds = cur_u32(&c);
	out->send_seq = cur_u64(&c);
	out->recv_seq = cur_u64(&c);
	if (cur_left(&c) > 0) {         /* a record from before delivery tokens has none */
		out->token_state = cur_u8(&c);
		cur_copy(&c, out->token, sizeof(out->token));
		out->token_seq = cur_u64(&c);
		out->token_given = cur_u32(&c);
	}
	if (out->verified > 1 || out->trust > STORE_TRUST_BLOCKED ||
	    out->token_state > STORE_TOKEN_STALE)
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	return finish(&c);
}

/* message: peer, id, dir, type, flags, seq, server_time, body (lv32), sent_ms u64, and for
 * a group message the group's id (lv16) */

void
store_message_encode(struct buf *b, const struct store_message *m)
{
	put_str(b, m->peer);
	buf_put(b, m->id, sizeof(m->id));
	buf_u8(b, m->dir);
	buf_u8(b, m->type);
	buf_u32(b, m->flags);
	buf_u64(b, m->seq);
	buf_u64(b, m->server_time);
	buf_lv32(b, m->body, m->body_len);
	buf_u64(b, m->sent_ms);
	if (m->group_len > 0)
		buf_lv16(b, m->group, m->group_len);
}

int
store_message_decode(const uint8_t *p, size_t n, struct store_message *out,
    const uint8_t **body)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	*body = NULL;
	cur_init(&c, p, n);
	get_str(&c, out->peer, STORE_ADDR_MAX);
	cur_copy(&c, out->id, sizeof(out->id));
	out->dir = cur_u8(&c);
	out->type = cur_u8(&c);
	out->flags = cur_u32(&c);
	out->seq = cur_u64(&c);
	out->server_time = cur_u64(&c);
	*body = cur_lv32(&c, STORE_BODY_MAX, &out->body_len);
	/* sent_ms came with schema 2; a record written before has none */
	if (cur_left(&c) > 0)
		out->sent_ms = cur_u64(&c);
	/* a group message's id follows (schema 3 on) */
	if (cur_left(&c) > 0) {
		const uint8_t *g = cur_lv16(&c, STORE_GROUP_ID_MAX, &out->group_len);

		if (g != NULL && out->group_len > 0)
			memcpy(out->group, g, out->group_len);
		else
			cur_fail(&c, SOTTO_ERR_MALFORMED);
	}
	if (out->dir < STORE_DIR_IN || out->dir > STORE_DIR_OUT ||
	    out->type < STORE_MSG_TEXT || out->type > STORE_MSG_GROUP_EVENT)
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if (finish(&c) != 0) {
		*body = NULL;
		out->body_len = 0;
		return SOTTO_ERR_CORRUPT;
	}
	return 0;
}

/* outbox: id, recipient, envelope (lv32) */

void
store_outbox_encode(struct buf *b, const uint8_t id[STORE_MSGID_LEN], const char *recipient,
    const uint8_t *env, size_t env_len)
{
	buf_put(b, id, STORE_MSGID_LEN);
	put_str(b, recipient);
	buf_lv32(b, env, env_len);
}

int
store_outbox_decode(const uint8_t *p, size_t n, struct store_outbox_item *out,
    const uint8_t **env)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, n);
	cur_copy(&c, out->id, sizeof(out->id));
	get_str(&c, out->recipient, STORE_ADDR_MAX);
	*env = cur_lv32(&c, STORE_ENVELOPE_MAX, &out->envelope_len);
	if (finish(&c) != 0) {
		*env = NULL;
		out->envelope_len = 0;
		return SOTTO_ERR_CORRUPT;
	}
	return 0;
}

/* group: id (lv16), name, expiry u32, status u8, created u64, state (lv32), state before
 * our pending Commit (lv32, empty if none) */

void
store_group_encode(struct buf *b, const struct store_group *g)
{
	buf_lv16(b, g->id, g->id_len);
	put_str(b, g->name);
	buf_u32(b, g->expiry_seconds);
	buf_u8(b, g->status);
	buf_u64(b, g->created);
	buf_lv32(b, g->state, g->state_len);
	buf_lv32(b, g->prev_state, g->prev_state_len);
}

int
store_group_decode(const uint8_t *p, size_t n, struct store_group *out, const uint8_t **state,
    const uint8_t **prev)
{
	const uint8_t *id;
	struct cur c;

	memset(out, 0, sizeof(*out));
	*state = *prev = NULL;
	cur_init(&c, p, n);
	id = cur_lv16(&c, STORE_GROUP_ID_MAX, &out->id_len);
	if (id != NULL)
		memcpy(out->id, id, out->id_len);
	get_str(&c, out->name, STORE_GROUP_NAME_MAX);
	out->expiry_seconds = cur_u32(&c);
	out->status = cur_u8(&c);
	out->created = cur_u64(&c);
	*state = cur_lv32(&c, STORE_GROUP_STATE_MAX, &out->state_len);
	*prev = cur_lv32(&c, STORE_GROUP_STATE_MAX, &out->prev_state_len);
	if (out->id_len == 0 || out->status > STORE_GROUP_MISSED)
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if (finish(&c) != 0) {
		*state = *prev = NULL;
		out->state_len = out->prev_state_len = 0;
		return SOTTO_ERR_CORRUPT;
	}
	if (out->prev_state_len == 0)
		*prev = NULL;
	return 0;
}

/* key package: ref, last_resort u8, created u64, init and encryption secrets, KeyPackage
 * (lv32) */

void
store_key_package_encode(struct buf *b, const struct store_key_package *k)
{
	buf_put(b, k->ref, sizeof(k->ref));
	buf_u8(b, k->last_resort);
	buf_u64(b, k->created);
	buf_put(b, k->init_sec, sizeof(k->init_sec));
	buf_put(b, k->enc_sec, sizeof(k->enc_sec));
	buf_lv32(b, k->kp, k->kp_len);
}

int
store_key_package_decode(const uint8_t *p, size_t n, struct store_key_package *out,
    const uint8_t **kp)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	*kp = NULL;
	cur_init(&c, p, n);
	cur_copy(&c, out->ref, sizeof(out->ref));
	out->last_resort = cur_u8(&c);
	out->created = cur_u64(&c);
	cur_copy(&c, out->init_sec, sizeof(out->init_sec));
	cur_copy(&c, out->enc_sec, sizeof(out->enc_sec));
	*kp = cur_lv32(&c, STORE_KEY_PACKAGE_MAX, &out->kp_len);
	if (out->last_resort > 1 || out->kp_len == 0)
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if (finish(&c) != 0) {
		sodium_memzero(out, sizeof(*out));
		*kp = NULL;
		return SOTTO_ERR_CORRUPT;
	}
	return 0;
}

/* a name (folder): lv16 string */

void
store_name_encode(struct buf *b, const char *name)
{
	put_str(b, name);
}

int
store_name_decode(const uint8_t *p, size_t n, char *out, size_t max)
{
	struct cur c;

	cur_init(&c, p, n);
	get_str(&c, out, max);
	return finish(&c);
}
