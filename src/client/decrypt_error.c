/*
 * Decryption-failure receipts, after Signal's DecryptionErrorMessage. A recipient that
 * identified the sender of a message (sealed sender opened, certificate valid) but could
 * not decrypt it sends one back, sealed to the sender's identity with message type 3, so
 * that a broken session is noticed instead of silently swallowing every message. The
 * sender tells its user and archives the session, so that its next send starts a new one
 * from a fresh prekey bundle.
 *
 * No loops: a receipt is never answered with a receipt (one that fails to parse is
 * dropped with a warning). No floods: a recipient sends at most one per contact per
 * CLIENT_DERR_INTERVAL, and a sender archives a session for a receipt only if the failed
 * message is younger than its last archive for that contact.
 */
#include "client/client_int.h"
#include "client/decrypt_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base/cursor.h"
#include "crypto/sealed.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"
#include "wire/msgid.h"
#include "wire/proto.h"

#define DERR_SETTING_LEN (16 + 32 + 1)

/* 0x01 || u8 reason || u8 flags || u64 time_ms || ratchet_pub[32] || u32 n */
int
decrypt_error_encode(const struct decrypt_error *e, struct buf *out)
{
	static const uint8_t zero[DH_PUBLIC_LEN];

	if (e->reason < DECRYPT_ERROR_NO_SESSION || e->reason > DECRYPT_ERROR_REUSED)
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(out, DECRYPT_ERROR_VERSION);
	buf_u8(out, e->reason);
	buf_u8(out, e->has_header ? DECRYPT_ERROR_HAS_HEADER : 0);
	buf_u64(out, e->time_ms);
	buf_put(out, e->has_header ? e->ratchet_pub : zero, DH_PUBLIC_LEN);
	buf_u32(out, e->has_header ? e->n : 0);
	return buf_status(out);
}

int
decrypt_error_decode(struct decrypt_error *e, const uint8_t *p, size_t len)
{
	static const uint8_t zero[DH_PUBLIC_LEN];
	struct cur c;
	uint8_t version, flags;
	int r;

	memset(e, 0, sizeof(*e));
	cur_init(&c, p, len);
	version = cur_u8(&c);
	e->reason = cur_u8(&c);
	flags = cur_u8(&c);
	e->time_ms = cur_u64(&c);
	cur_copy(&c, e->ratchet_pub, DH_PUBLIC_LEN);
	e->n = cur_u32(&c);
	if ((r = cur_finish(&c)) != 0)
		goto fail;
	r = SOTTO_ERR_BAD_VERSION;
	if (version != DECRYPT_ERROR_VERSION)
		goto fail;
	r = SOTTO_ERR_MALFORMED;
	if (e->reason < DECRYPT_ERROR_NO_SESSION || e->reason > DECRYPT_ERROR_REUSED ||
	    (flags & ~DECRYPT_ERROR_HAS_HEADER) != 0 ||
	    (!(flags & DECRYPT_ERROR_HAS_HEADER) &&
	    (e->n != 0 || memcmp(e->ratchet_pub, zero, DH_PUBLIC_LEN) != 0)))
		goto fail;
	e->has_header = (flags & DECRYPT_ERROR_HAS_HEADER) != 0;
	return 0;
fail:
	memset(e, 0, sizeof(*e));
	return r;
}

/* A per-contact setting: kind + hex(BLAKE2b-128(address)). */
static void
derr_setting(char out[DERR_SETTING_LEN], const char *kind, const char *address)
{
	uint8_t h[16];
	char hex[33];

	crypto_generichash(h, sizeof(h), (const uint8_t *)address, strlen(address), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(out, DERR_SETTING_LEN, "%s%s", kind, hex);
}

static uint64_t
setting_u64(struct sotto *s, const char *name)
{
	uint8_t *v = NULL;
	size_t len = 0, i;
	uint64_t x = 0;

	if (store_setting_get(s->st, name, &v, &len) == 0 && len == 8)
		for (i = 0; i < 8; i++)
			x = x << 8 | v[i];
	store_blob_free(v, len);
	return x;
}

static int
setting_u64_put(struct sotto *s, const char *name, uint64_t x)
{
	uint8_t v[8];
	int i;

	for (i = 7; i >= 0; i--, x >>= 8)
		v[i] = (uint8_t)x;
	return store_setting_put(s->st, name, v, sizeof(v));
}

void
client_derr_describe(struct client_derr *d, int err, const struct sealed_opened *o,
    uint64_t server_ms)
{
	struct ratchet_header h;

	memset(d, 0, sizeof(*d));
	memcpy(d->peer, o->sender_addr, o->sender_addr_len + 1);
	memcpy(d->ident, o->sender_ident, sizeof(d->ident));
	d->e.reason = err == SOTTO_ERR_NO_SESSION ? DECRYPT_ERROR_NO_SESSION :
	    err == SOTTO_ERR_ROLLBACK ? DECRYPT_ERROR_REUSED : DECRYPT_ERROR_UNREADABLE;
	d->e.time_ms = server_ms;
	if (e2e_session_msg_header(&suite_native, &h, o->msg_type, o->msg, o->msg_len) == 0) {
		d->e.has_header = 1;
		memcpy(d->e.ratchet_pub, h.dh_pub, DH_PUBLIC_LEN);
		d->e.n = h.n;
	}
}

int
client_derr_send(struct sotto *s, const struct client_derr *d, int timeout_ms)
{
	char name[DERR_SETTING_LEN];
	struct sealed_content sc;
	struct proto_msg *req = NULL, resp;
	struct buf msg, env;
	uint64_t now = client_now();
	int r;

	derr_setting(name, "derr-sent/", d->peer);
	if (now < setting_u64(s, name) + CLIENT_DERR_INTERVAL)
		return 0;       /* told them recently */
	buf_init_dyn(&msg, DECRYPT_ERROR_LEN);
	buf_init_dyn(&env, SEALED_ENVELOPE_MAX);
	if ((r = client_ensure_cert(s, timeout_ms)) != 0 ||
	    (r = decrypt_error_encode(&d->e, &msg)) != 0)
		goto out;
	memset(&sc, 0, sizeof(sc));
	sc.sender_addr = s->k->id.address;
	sc.sender_addr_len = strlen(s->k->id.address);
	sc.cert = s->cert;
	sc.cert_len = s->cert_len;
	sc.msg_type = E2E_SESSION_MSG_DECRYPT_ERROR;
	sc.msg = msg.p;
	sc.msg_len = msg.len;
	if ((r = sealed_seal(&env, &s->k->xid, d->ident, &sc)) != 0)
		goto out;
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	req->type = PROTO_SEND;
	memcpy(req->u.send.recipient, d->peer, strlen(d->peer) + 1);
	msgid_new(req->u.send.client_msg_id, client_now_ms());
	req->u.send.envelope = env.p;
	req->u.send.envelope_len = env.len;
	if ((r = client_request(s, req, &resp, timeout_ms)) == 0)
		r = setting_u64_put(s, name, now);
out:
	free(req);
	buf_free(&msg);
	buf_free(&env);
	return r;
}

int
client_derr_receive(struct sotto *s, const struct sealed_opened *o, struct client_derr *d,
    int *archived)
{
	char name[DERR_SETTING_LEN];
	struct store_contact ct;
	uint64_t now_ms = client_now_ms();
	int r, have;

	*archived = 0;
	memset(d, 0, sizeof(*d));
	memcpy(d->peer, o->sender_addr, o->sender_addr_len + 1);
	memcpy(d->ident, o->sender_ident, sizeof(d->ident));
	if ((r = decrypt_error_decode(&d->e, o->msg, o->msg_len)) != 0)
		return SOTTO_ERR_MALFORMED;
	if ((r = store_begin(s->st)) != 0)
		return r;
	/* Only a contact with the identity we hold can make us start over. */
	if ((have = client_contact_find(s, o->sender_addr, &ct)) < 0) {
		r = have;
		goto rollback;
	}
	if (!have || sodium_memcmp(ct.identity_pk, o->sender_ident, 32) != 0) {
		r = SOTTO_ERR_NO_SESSION;
		goto rollback;
	}
	derr_setting(name, "derr-reset/", o->sender_addr);
	if (d->e.time_ms >= setting_u64(s, name)) {
		if ((r = client_archive_current(s, o->sender_addr)) != 0 ||
		    (r = setting_u64_put(s, name, now_ms)) != 0)
			goto rollback;
		*archived = 1;
	}
	return store_commit(s->st);
rollback:
	store_rollback(s->st);
	return r;
}

void
client_derr_text(char *out, size_t cap, const struct client_derr *d, int archived)
{
	time_t t = (time_t)(d->e.time_ms / 1000);
	struct tm tm;
	char when[32];

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(out, cap, "%s could not read your message of %s (%s)%s", d->peer, when,
	    d->e.reason == DECRYPT_ERROR_NO_SESSION ? "no session" :
	    d->e.reason == DECRYPT_ERROR_REUSED ?
	    "it reused a message number: was this store restored from a backup?" :
	    "decryption failed",
	    archived ? "; your next message starts a new session" : "");
}
