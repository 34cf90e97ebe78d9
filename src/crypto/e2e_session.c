/*
 * Sessions: X3DH + ratchet + the prekey-message wrapper. The initiator keeps wrapping its
 * messages (with the same X3DH info) until the first message from the responder decrypts,
 * so whichever of its first messages arrives first can start the responder's session.
 */
#include "crypto/e2e_session.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "base/cursor.h"

#define E2E_SESSION_STATE_VERSION 2     /* 1 (no KEM part) is still read */
#define SF_INITIATOR 0x01
#define SF_PENDING 0x02

struct e2e_session {
	const struct ratchet_suite *suite;
	struct ratchet *r;
	uint8_t flags;
	uint32_t local_reg_id;
	uint32_t remote_reg_id;
	/* Initiator: what its prekey messages carry. Responder: what started the session, to
	 * recognise repeats of the initiator's first flight. Public. */
	struct x3dh_init_info info;
};

void
e2e_session_free(struct e2e_session *ss)
{
	if (ss == NULL)
		return;
	ratchet_free(ss->r);
	free(ss);
}

int
e2e_session_initiate(struct e2e_session **out, const struct ratchet_suite *s,
    const struct x3dh_identity *me, const struct x3dh_bundle *b,
    const struct e2e_session_opts *opts)
{
	uint8_t rk[RATCHET_KEY_LEN], ck[RATCHET_KEY_LEN];   /* SECRET */
	struct e2e_session *ss;
	int err;

	*out = NULL;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return SOTTO_ERR_NOMEM;
	ss->suite = s;
	ss->flags = SF_INITIATOR | SF_PENDING;
	ss->local_reg_id = opts ? opts->local_registration_id : 0;
	ss->remote_reg_id = b->registration_id;
	if ((err = x3dh_initiate(s, me, b, &ss->info, rk, ck)) != 0)
		goto out;
	ss->info.registration_id = ss->local_reg_id;
	if ((err = ratchet_init_alice(&ss->r, s, rk, b->spk_pub, me->pub, me->pub_len,
	    b->ident_pub, b->ident_pub_len, opts ? opts->max_skip : 0)) != 0)
		goto out;
	/* A PQXDH session is a PQ one for its whole life: the KEM ratchet (PROTOCOL.md 4.4). */
	if (ss->info.has_kem && (err = ratchet_enable_kem(ss->r)) != 0)
		goto out;
	*out = ss;
	ss = NULL;
out:
	sodium_memzero(rk, sizeof(rk));
	sodium_memzero(ck, sizeof(ck));
	e2e_session_free(ss);
	return err;
}

int
e2e_session_prekey_info(const struct ratchet_suite *s, struct x3dh_init_info *info,
    const uint8_t *msg, size_t len)
{
	const uint8_t *inner;
	size_t inner_len;

	return s->prekey_parse(info, &inner, &inner_len, msg, len);
}

int
e2e_session_respond(struct e2e_session **out, const struct ratchet_suite *s,
    const struct x3dh_identity *me, const struct x3dh_keypair *spk,
    const struct x3dh_keypair *opk, const uint8_t *msg, size_t len, struct buf *pt,
    const struct e2e_session_opts *opts)
{
	uint8_t rk[RATCHET_KEY_LEN], ck[RATCHET_KEY_LEN];   /* SECRET */
	struct e2e_session *ss;
	const uint8_t *inner;
	size_t inner_len;
	int err;

	*out = NULL;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return SOTTO_ERR_NOMEM;
	ss->suite = s;
	ss->local_reg_id = opts ? opts->local_registration_id : 0;
	if ((err = s->prekey_parse(&ss->info, &inner, &inner_len, msg, len)) != 0)
		goto out;
	ss->remote_reg_id = ss->info.registration_id;
	if ((err = x3dh_respond(s, me, spk, opk, opts ? opts->kem_dk : NULL, &ss->info, rk,
	    ck)) != 0)
		goto out;
	if ((err = ratchet_init_bob(&ss->r, s, rk, spk, me->pub, me->pub_len, ss->info.ident_pub,
	    ss->info.ident_pub_len, opts ? opts->max_skip : 0)) != 0)
		goto out;
	if (ss->info.has_kem && (err = ratchet_enable_kem(ss->r)) != 0)
		goto out;
	/* The session exists only if the first message authenticates under the derived keys:
	 * this is what proves the initiator knew its identity key and our prekeys' ids. */
	if ((err = ratchet_decrypt(ss->r, pt, inner, inner_len)) != 0)
		goto out;
	*out = ss;
	ss = NULL;
out:
	sodium_memzero(rk, sizeof(rk));
	sodium_memzero(ck, sizeof(ck));
	e2e_session_free(ss);
	return err;
}

int
e2e_session_encrypt(struct e2e_session *ss, struct buf *out, int *type, const uint8_t *pt, size_t len)
{
	struct buf tmp;
	int err;

	*type = 0;
	if (!(ss->flags & SF_PENDING)) {
		if ((err = ratchet_encrypt(ss->r, out, pt, len)) == 0)
			*type = E2E_SESSION_MSG_NORMAL;
		return err;
	}
	buf_init_dyn(&tmp, RATCHET_MSG_MAX);
	if ((err = ratchet_encrypt(ss->r, &tmp, pt, len)) == 0 &&
	    (err = ss->suite->prekey_wrap(out, &ss->info, tmp.p, tmp.len)) == 0)
		*type = E2E_SESSION_MSG_PREKEY;
	buf_free(&tmp);
	return err;
}

int
e2e_session_decrypt(struct e2e_session *ss, struct buf *pt, int type, const uint8_t *msg, size_t len)
{
	struct x3dh_init_info info;
	const uint8_t *inner;
	size_t inner_len;
	int err;

	if (type == E2E_SESSION_MSG_NORMAL) {
		if ((err = ratchet_decrypt(ss->r, pt, msg, len)) != 0)
			return err;
		ss->flags &= (uint8_t)~SF_PENDING;
		return 0;
	}
	if (type != E2E_SESSION_MSG_PREKEY)
		return SOTTO_ERR_INVALID_ARG;
	if ((err = ss->suite->prekey_parse(&info, &inner, &inner_len, msg, len)) != 0)
		return err;
	/* Only a repeat of the flight that started this session belongs to it; anything else
	 * is a new session the caller must set up with e2e_session_respond(). */
	if ((ss->flags & SF_INITIATOR) ||
	    sodium_memcmp(info.base_pub, ss->info.base_pub, DH_PUBLIC_LEN) != 0 ||
	    info.ident_pub_len != ss->info.ident_pub_len ||
	    sodium_memcmp(info.ident_pub, ss->info.ident_pub, info.ident_pub_len) != 0 ||
	    info.spk_id != ss->info.spk_id || info.has_opk != ss->info.has_opk ||
	    info.opk_id != ss->info.opk_id || info.has_kem != ss->info.has_kem ||
	    info.kem_id != ss->info.kem_id ||
	    sodium_memcmp(info.kem_ct, ss->info.kem_ct, X3DH_KEM_CT_LEN) != 0)
		return SOTTO_ERR_STATE;
	/* The flight that started this session, again. A message of it that no longer
	 * decrypts is one whose chain this state has moved past (more than 8 ratchet steps
	 * ago): a replay, never a reason to start over. */
	if ((err = ratchet_decrypt(ss->r, pt, inner, inner_len)) == SOTTO_ERR_DECRYPT)
		err = SOTTO_ERR_REPLAY;
	return err;
}

int
e2e_session_msg_header(const struct ratchet_suite *s, struct ratchet_header *h, int type,
    const uint8_t *msg, size_t len)
{
	struct x3dh_init_info info;
	const uint8_t *inner = msg;
	size_t inner_len = len;
	int err;

	if (type == E2E_SESSION_MSG_PREKEY &&
	    (err = s->prekey_parse(&info, &inner, &inner_len, msg, len)) != 0)
		return err;
	if (type != E2E_SESSION_MSG_PREKEY && type != E2E_SESSION_MSG_NORMAL)
		return SOTTO_ERR_INVALID_ARG;
	return s->parse_header(h, inner, inner_len);
}

/*
 * State: u8 version=2, u8 suite id, u8 flags, u32 local reg id, u32 remote reg id,
 * info: u32 reg id, u32 spk id, u8 has_opk, u32 opk id, base[32], u8 len + identity,
 * u8 has_kem [u32 kem id, kem_ct[1088]], then u32 length + the ratchet state. Version 1
 * is the same without the KEM part.
 */
int
e2e_session_serialize(const struct e2e_session *ss, struct buf *out)
{
	size_t rs_len = ratchet_serialized_len(ss->r), at;
	int err;

	/* the fields below, at most 4 + 5 * 4 + 2 + 2 + DH_PUBLIC_LEN + the identity + the KEM
	 * part, then lv32(ratchet state), written in place (one allocation, no copy) */
	buf_ensure(out, 28 + DH_PUBLIC_LEN + ss->info.ident_pub_len + 4 + X3DH_KEM_CT_LEN + 4 +
	    rs_len);
	buf_u8(out, E2E_SESSION_STATE_VERSION);
	buf_u8(out, ss->suite->id);
	buf_u8(out, ss->flags);
	buf_u32(out, ss->local_reg_id);
	buf_u32(out, ss->remote_reg_id);
	buf_u32(out, ss->info.registration_id);
	buf_u32(out, ss->info.spk_id);
	buf_u8(out, ss->info.has_opk ? 1 : 0);
	buf_u32(out, ss->info.opk_id);
	buf_put(out, ss->info.base_pub, DH_PUBLIC_LEN);
	buf_u8(out, (uint8_t)ss->info.ident_pub_len);
	buf_put(out, ss->info.ident_pub, ss->info.ident_pub_len);
	buf_u8(out, ss->info.has_kem ? 1 : 0);
	if (ss->info.has_kem) {
		buf_u32(out, ss->info.kem_id);
		buf_put(out, ss->info.kem_ct, X3DH_KEM_CT_LEN);
	}
	buf_u32(out, (uint32_t)rs_len);
	at = out->len;
	if ((err = ratchet_serialize(ss->r, out)) != 0)
		return err;
	/* the length written first is the one ratchet_serialized_len promised */
	return out->len - at == rs_len ? 0 : SOTTO_ERR_INTERNAL;
}

int
e2e_session_deserialize(struct e2e_session **out, const struct ratchet_suite *s, const uint8_t *p,
    size_t len)
{
	struct e2e_session *ss;
	struct cur c;
	const uint8_t *rs;
	size_t rs_len;
	uint8_t version, suite_id, has_opk, has_kem = 0;
	int err;

	*out = NULL;
	cur_init(&c, p, len);
	version = cur_u8(&c);
	suite_id = cur_u8(&c);
	if ((err = cur_status(&c)) != 0)
		return err;
	if (version != 1 && version != E2E_SESSION_STATE_VERSION)
		return SOTTO_ERR_BAD_VERSION;
	if (suite_id != s->id)
		return SOTTO_ERR_UNSUPPORTED;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return SOTTO_ERR_NOMEM;
	ss->suite = s;
	ss->flags = cur_u8(&c);
	ss->local_reg_id = cur_u32(&c);
	ss->remote_reg_id = cur_u32(&c);
	ss->info.registration_id = cur_u32(&c);
	ss->info.spk_id = cur_u32(&c);
	has_opk = cur_u8(&c);
	ss->info.opk_id = cur_u32(&c);
	cur_copy(&c, ss->info.base_pub, DH_PUBLIC_LEN);
	ss->info.ident_pub_len = cur_u8(&c);
	err = SOTTO_ERR_MALFORMED;
	if (ss->info.ident_pub_len != s->ident_pub_len ||
	    ss->info.ident_pub_len > X3DH_IDENT_PUB_MAX || has_opk > 1 ||
	    (ss->flags & ~(SF_INITIATOR | SF_PENDING)) != 0 ||
	    (ss->flags & (SF_INITIATOR | SF_PENDING)) == SF_PENDING)
		goto out;
	ss->info.has_opk = has_opk;
	cur_copy(&c, ss->info.ident_pub, ss->info.ident_pub_len);
	if (version >= 2 && (has_kem = cur_u8(&c)) > 1)
		goto out;
	ss->info.has_kem = has_kem;
	if (has_kem) {
		ss->info.kem_id = cur_u32(&c);
		cur_copy(&c, ss->info.kem_ct, X3DH_KEM_CT_LEN);
	}
	rs = cur_lv32(&c, RATCHET_MAX_SKIP_LIMIT * 72 + 4096, &rs_len);
	if ((err = cur_finish(&c)) != 0)
		goto out;
	if ((err = ratchet_deserialize(&ss->r, s, rs, rs_len)) != 0)
		goto out;
	*out = ss;
	ss = NULL;
out:
	e2e_session_free(ss);
	return err;
}

const uint8_t *
e2e_session_remote_identity(const struct e2e_session *ss, size_t *len)
{
	return ratchet_remote_ident(ss->r, len);
}

uint32_t
e2e_session_remote_registration_id(const struct e2e_session *ss)
{
	return ss->remote_reg_id;
}

int
e2e_session_is_pq(const struct e2e_session *ss)
{
	return ss->info.has_kem != 0;
}

int
e2e_session_state_is_pq(const uint8_t *p, size_t len)
{
	struct cur c;
	uint8_t version, has_kem;
	int err;

	cur_init(&c, p, len);
	version = cur_u8(&c);
	/* suite, flags, 3 registration ids, spk id, has_opk, opk id, base key */
	(void)cur_ref(&c, 1 + 1 + 12 + 4 + 1 + 4 + DH_PUBLIC_LEN);
	(void)cur_ref(&c, cur_u8(&c));          /* the identity */
	has_kem = version >= 2 ? cur_u8(&c) : 0;
	if ((err = cur_status(&c)) != 0)
		return err;
	if (version != 1 && version != E2E_SESSION_STATE_VERSION)
		return SOTTO_ERR_BAD_VERSION;
	return has_kem > 1 ? SOTTO_ERR_MALFORMED : has_kem;
}

int
e2e_session_pending_prekey(const struct e2e_session *ss)
{
	return (ss->flags & SF_PENDING) != 0;
}

struct ratchet *
e2e_session_ratchet(struct e2e_session *ss)
{
	return ss->r;
}
