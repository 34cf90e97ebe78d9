/*
 * Sending: a content is encrypted in the contact's session, and the new session state,
 * the contact's next sequence number and the outbox item are stored in one transaction
 * before anything goes to the server. The outbox keeps the ratchet message (not the
 * envelope), so a retry seals it again with a fresh sender certificate under the same id.
 * Without a session and without the server (no prekey bundle to start one), the content
 * itself waits in the outbox, sealed in the store like everything else, and is encrypted
 * by the first flush that can fetch the bundle, in its place in the queue. An item the
 * server refuses because its recipient registered a new identity goes back to being its
 * content the same way, and is sealed in a new session from the new bundle.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "crypto/sealed.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"
#include "wire/address.h"
#include "wire/msgid.h"
#include "wire/proto.h"

_Static_assert(CONTENT_ID_LEN == MSGID_LEN && PROTO_MSG_ID_LEN == MSGID_LEN,
    "a message id is a client message id");

#define CONTENT_MAX (CONTENT_HEADER_LEN + 16 + CONTENT_BODY_MAX + 4 * CONTENT_RECEIPT_MAX)
#define INNER_MAX (1 + RATCHET_MSG_MAX)

_Static_assert(CONTENT_MAX <= RATCHET_PLAINTEXT_MAX, "a queued content fits an outbox item");

int
client_contact_find(struct sotto *s, const char *address, struct store_contact *c)
{
	int r = store_contact_get(s->st, address, c);

	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	return r == 0 ? 1 : r;
}

/* A session from the server's bundle for `to`; applies the key-change policy to ct. */
static int
session_from_bundle(struct sotto *s, const char *to, struct store_contact *ct, int *have,
    struct e2e_session **ss, int timeout_ms)
{
	struct proto_msg req, resp;
	struct x3dh_bundle b;
	const struct proto_bundle *pb;
	uint64_t now = client_now();
	int r;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_FETCH_BUNDLE;
	memcpy(req.u.fetch.address, to, strlen(to) + 1);
	if ((r = client_request(s, &req, &resp, timeout_ms)) != 0)
		return r;
	pb = &resp.u.bundle;
	if ((r = client_bundle_kem_check(pb)) != 0)
		return r;
	memset(&b, 0, sizeof(b));
	memcpy(b.ident_pub, pb->identity_pk, 32);
	b.ident_pub_len = 32;
	b.spk_id = pb->spk.id;
	memcpy(b.spk_pub, pb->spk.pub, 32);
	memcpy(b.spk_sig, pb->spk.sig, 64);
	b.has_opk = pb->has_otpk;
	b.opk_id = pb->otpk.id;
	memcpy(b.opk_pub, pb->otpk.pub, 32);
	/* PQXDH whenever the peer publishes ML-KEM prekeys; else classical X3DH, unless
	 * the user requires post-quantum sessions. */
	b.has_kem = pb->has_kem;
	b.kem_id = pb->kem_id;
	memcpy(b.kem_ek, pb->kem_ek, sizeof(b.kem_ek));
	memcpy(b.kem_sig, pb->kem_sig, sizeof(b.kem_sig));
	if (!b.has_kem && (r = sotto_require_pq(s)) != 0)
		return r < 0 ? r : SOTTO_ERR_CLASSICAL_REFUSED;
	if (*have && sodium_memcmp(ct->identity_pk, b.ident_pub, 32) != 0) {
		/* The server now hands out another identity for this address. */
		memcpy(ct->identity_pk, b.ident_pub, 32);
		ct->changed_at = now;
		ct->send_seq = 1;
		ct->recv_seq = 0;
		store_contact_token_reset(ct);
		if (ct->verified) {
			ct->trust = STORE_TRUST_BLOCKED;
			if ((r = store_contact_put(s->st, ct)) != 0)
				return r;
			return SOTTO_ERR_UNTRUSTED_IDENTITY;
		}
		ct->trust = STORE_TRUST_CHANGED;
	} else if (!*have) {
		memset(ct, 0, sizeof(*ct));
		memcpy(ct->address, to, strlen(to) + 1);
		memcpy(ct->identity_pk, b.ident_pub, 32);
		ct->trust = STORE_TRUST_OK;
		ct->first_seen = now;
		ct->send_seq = 1;
		*have = 1;
	}
	return e2e_session_initiate(ss, &suite_native, &s->k->xid, &b, NULL);
}

/* Transient refusals leave the item queued (UNREACHABLE: an unidentified connection that
 * could not be opened while the identified one stands). */
static int
status_transient(int r)
{
	return r == SOTTO_ERR_LIMIT || r == SOTTO_ERR_STORAGE || r == SOTTO_ERR_TIMEOUT ||
	    r == SOTTO_ERR_UNREACHABLE ||
	    r == SOTTO_ERR_QUOTA || r == SOTTO_ERR_MAILBOX_FULL || r == SOTTO_ERR_SERVER_FULL ||
	    r == SOTTO_ERR_INTERNAL || r == SOTTO_ERR_NOMEM;
}

int
client_session_exists(struct sotto *s, const char *to)
{
	uint8_t *state = NULL;
	size_t state_len = 0;
	int r = store_session_get(s->st, to, &state, &state_len);

	store_blob_free(state, state_len);
	return r == 0 ? 1 : r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}

/* When a classical session last looked for a post-quantum replacement (setting
 * "pq-check/" + address, u64 unix seconds). */
#define PQ_CHECK_PREFIX "pq-check/"

static int
pq_check_due(struct sotto *s, const char *to, uint64_t now)
{
	char name[sizeof(PQ_CHECK_PREFIX) + ADDRESS_MAX];
	uint8_t *v = NULL, rec[8];
	uint64_t last = 0;
	size_t n = 0;
	int r;

	snprintf(name, sizeof(name), "%s%s", PQ_CHECK_PREFIX, to);
	r = store_setting_get(s->st, name, &v, &n);
	if (r == 0 && n == 8)
		for (int i = 0; i < 8; i++)
			last = last << 8 | v[i];
	store_blob_free(v, n);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		return r;
	if (r == 0 && last <= now && now - last < CLIENT_PQ_CHECK_EVERY)
		return 0;
	for (int i = 0; i < 8; i++)
		rec[i] = (uint8_t)(now >> (56 - 8 * i));
	if ((r = store_setting_put(s->st, name, rec, sizeof(rec))) != 0)
		return r;
	return 1;
}

/*
 * An existing classical session with `to` is replaced by a post-quantum one as soon as
 * the peer publishes ML-KEM prekeys: at most once per CLIENT_PQ_CHECK_EVERY (each check
 * costs the peer a one-time prekey), and on every send while post-quantum sessions are
 * required. If the fetched bundle gives a PQXDH session, the classical one is archived
 * (messages still in flight on it decrypt) and *fresh is the new one. A classical session
 * that cannot be replaced is kept, or refused (SOTTO_ERR_CLASSICAL_REFUSED) while
 * post-quantum sessions are required.
 */
static int
upgrade_classical(struct sotto *s, const char *to, struct store_contact *ct, int *have,
    struct e2e_session **fresh, int timeout_ms)
{
	struct e2e_session *f = NULL;
	uint8_t *state = NULL;
	size_t len = 0;
	int r, required;

	if ((r = store_session_get(s->st, to, &state, &len)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	r = e2e_session_state_is_pq(state, len);
	store_blob_free(state, len);
	if (r != 0)
		return r > 0 ? 0 : r;
	if ((required = sotto_require_pq(s)) < 0)
		return required;
	if (!required && (r = pq_check_due(s, to, client_now())) <= 0)
		return r;
	r = session_from_bundle(s, to, ct, have, &f, timeout_ms);
	if (r == 0 && e2e_session_is_pq(f)) {
		if ((r = client_archive_current(s, to)) == 0) {
			*fresh = f;
			f = NULL;
		}
	} else if (r == 0 || r == SOTTO_ERR_CLASSICAL_REFUSED) {
		r = required ? SOTTO_ERR_CLASSICAL_REFUSED : 0;
	}
	e2e_session_free(f);
	return r;
}

/*
 * Inside the caller's write transaction, so that another process on this store cannot use
 * the same ratchet state twice: encrypts c in the stored session with `to`, or else in
 * *fresh (taken; *ct is then the contact session_from_bundle made), sets c->seq and
 * c->expiry, stores the new session state and the contact, and puts type || ratchet
 * message into item. SOTTO_ERR_NO_SESSION if there is neither.
 */
static int
seal_in_session(struct sotto *s, const char *to, struct content *c, struct store_contact *ct,
    struct e2e_session **fresh, struct buf *item)
{
	struct e2e_session *ss = NULL;
	struct buf pt, ser;
	uint8_t *state = NULL;
	size_t state_len = 0;
	int r, type = 0;

	buf_init_dyn(&pt, CONTENT_MAX);
	buf_init_dyn(&ser, STORE_SESSION_MAX);
	r = store_session_get(s->st, to, &state, &state_len);
	if (r == 0) {
		r = e2e_session_deserialize(&ss, &suite_native, state, state_len);
		store_blob_free(state, state_len);
		if (r != 0 || (r = store_contact_get(s->st, to, ct)) != 0)
			goto out;
	} else if (r == SOTTO_ERR_NOT_FOUND && *fresh != NULL) {
		ss = *fresh;
		*fresh = NULL;  /* transferred */
	} else {
		if (r == SOTTO_ERR_NOT_FOUND)
			r = SOTTO_ERR_NO_SESSION;
		goto out;
	}
	if (ct->trust == STORE_TRUST_BLOCKED) {
		r = SOTTO_ERR_UNTRUSTED_IDENTITY;
		goto out;
	}
	c->seq = ct->send_seq != 0 ? ct->send_seq : 1;
	c->expiry = ct->expiry_seconds;
	if ((r = client_token_attach(s, c, ct)) != 0 || (r = content_encode(c, &pt)) != 0)
		goto out;
	buf_reset(item);
	buf_u8(item, 0);
	if ((r = buf_status(item)) != 0 ||
	    (r = e2e_session_encrypt(ss, item, &type, pt.p, pt.len)) != 0 ||
	    (r = e2e_session_serialize(ss, &ser)) != 0)
		goto out;
	item->p[0] = (uint8_t)type;
	ct->send_seq = c->seq + 1;
	if ((r = store_session_put(s->st, to, ser.p, ser.len)) == 0)
		r = store_contact_put(s->st, ct);
out:
	e2e_session_free(ss);
	buf_wipe_free(&pt);
	buf_wipe_free(&ser);
	return r;
}

/*
 * A queued content (STORE_OUTBOX_CONTENT) becomes a ratchet message: from the session
 * with its recipient, or one started from a bundle fetched now. *it is replaced by what
 * the outbox then holds. Returns 1 if the item is gone (another process sent it).
 */
static int
seal_queued(struct sotto *s, struct store_outbox_item *it, int timeout_ms)
{
	struct store_outbox_item cur = { 0 };
	struct store_contact ct;
	struct e2e_session *fresh = NULL;
	struct content c;
	struct buf item;
	uint8_t *sealed;
	int have, r;

	buf_init_dyn(&item, INNER_MAX);
	if ((have = client_contact_find(s, it->recipient, &ct)) < 0)
		return have;
	if (have && ct.trust == STORE_TRUST_BLOCKED)
		return SOTTO_ERR_UNTRUSTED_IDENTITY;
	if ((r = client_session_exists(s, it->recipient)) == 0)
		r = session_from_bundle(s, it->recipient, &ct, &have, &fresh, timeout_ms);
	else if (r == 1)
		r = 0;
	if (r != 0)
		goto out;
	if ((r = store_begin(s->st)) != 0)
		goto out;
	if ((r = store_outbox_get(s->st, it->id, &cur)) != 0 || cur.envelope_len < 1 ||
	    cur.envelope[0] != STORE_OUTBOX_CONTENT) {
		/* sent meanwhile (gone), or sealed meanwhile: send what is there */
		store_rollback(s->st);
		if (r == SOTTO_ERR_NOT_FOUND)
			r = 1;
		goto out;
	}
	if (content_decode(cur.envelope + 1, cur.envelope_len - 1, &c) != 0) {
		r = SOTTO_ERR_CORRUPT;
		goto rollback;
	}
	if ((r = seal_in_session(s, it->recipient, &c, &ct, &fresh, &item)) != 0 ||
	    (r = store_outbox_replace(s->st, it->id, it->recipient, item.p, item.len)) != 0 ||
	    (r = store_commit(s->st)) != 0)
		goto rollback;
	/* committed: what is sent now is what the outbox holds (a failure here is
	 * transient and leaves it there) */
	store_outbox_item_free(&cur);
	if ((sealed = malloc(item.len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	memcpy(sealed, item.p, item.len);
	cur.envelope = sealed;
	cur.envelope_len = item.len;
	goto out;
rollback:
	store_rollback(s->st);
out:
	if (r == 0) {
		store_blob_free(it->envelope, it->envelope_len);
		it->envelope = cur.envelope;
		it->envelope_len = cur.envelope_len;
		cur.envelope = NULL;    /* transferred */
		cur.envelope_len = 0;
	}
	store_outbox_item_free(&cur);
	e2e_session_free(fresh);
	buf_wipe_free(&item);
	return r;
}

/*
 * SEND_SEALED of req on the kept unidentified connection (docs/PROTOCOL.md 7.0,
 * sealed_conn.c): nothing on it names us, and nothing is shared with our identified
 * connection. A connection that cannot be made or answers nothing is
 * SOTTO_ERR_UNREACHABLE or SOTTO_ERR_TIMEOUT (the item waits; it is not sent identified
 * instead).
 */
static int
transmit_sealed(struct sotto *s, struct proto_msg *req, const uint8_t token[STORE_TOKEN_LEN],
    int timeout_ms, uint64_t *sent_ms)
{
	struct proto_msg resp;
	int r;

	req->type = PROTO_SEND_SEALED;
	memcpy(req->u.send.token, token, PROTO_TOKEN_LEN);
	if ((r = client_sealed_request(s, req, &resp, timeout_ms)) == 0)
		*sent_ms = resp.u.sent.timestamp;
	sodium_memzero(req->u.send.token, PROTO_TOKEN_LEN);
	req->type = PROTO_SEND;
	return r;
}

/* The server refused the contact's token (rotated, or removed): identified from now on,
 * until the contact gives us a new one. */
static int
token_stale(struct sotto *s, struct store_contact *ct)
{
	struct store_contact cur;
	int r;

	if ((r = store_begin(s->st)) != 0)
		return r;
	if ((r = store_contact_get(s->st, ct->address, &cur)) == 0 &&
	    cur.token_seq == ct->token_seq && cur.token_state == STORE_TOKEN_OK) {
		cur.token_state = STORE_TOKEN_STALE;
		r = store_contact_put(s->st, &cur);
	}
	sodium_memzero(&cur, sizeof(cur));
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND) {
		store_rollback(s->st);
		return r;
	}
	return store_commit(s->st);
}

static int
transmit(struct sotto *s, const struct store_outbox_item *it, int timeout_ms,
    uint64_t *sent_ms)
{
	struct store_contact ct;
	struct sealed_content sc;
	struct proto_msg *req = NULL, resp;
	struct buf env;
	int r;

	buf_init_dyn(&env, SEALED_ENVELOPE_MAX);
	if (it->envelope_len < 2 || it->envelope[0] == STORE_OUTBOX_CONTENT)
		return SOTTO_ERR_CORRUPT;
	if ((r = store_contact_get(s->st, it->recipient, &ct)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_CORRUPT : r;
	if ((r = client_ensure_cert(s, timeout_ms)) != 0)
		goto out;
	memset(&sc, 0, sizeof(sc));
	sc.sender_addr = s->k->id.address;
	sc.sender_addr_len = strlen(s->k->id.address);
	sc.cert = s->cert;
	sc.cert_len = s->cert_len;
	sc.msg_type = it->envelope[0];
	sc.msg = it->envelope + 1;
	sc.msg_len = it->envelope_len - 1;
	if ((r = sealed_seal(&env, &s->k->xid, ct.identity_pk, &sc)) != 0)
		goto out;
	if (env.len > PROTO_ENVELOPE_MAX) {
		r = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	req->type = PROTO_SEND;
	memcpy(req->u.send.recipient, it->recipient, strlen(it->recipient) + 1);
	memcpy(req->u.send.client_msg_id, it->id, PROTO_MSG_ID_LEN);
	req->u.send.envelope = env.p;
	req->u.send.envelope_len = env.len;
	/* A server that finds another identity under this name refuses rather than store
	 * what nobody could read (SOTTO_ERR_IDENTITY_CHANGED). */
	req->u.send.has_identity = 1;
	memcpy(req->u.send.identity_pk, ct.identity_pk, sizeof(req->u.send.identity_pk));
	/* With the contact's token: sealed. Refused (AUTH: the contact rotated it), the
	 * token is marked stale and the item goes identified under the same id, once; the
	 * server stores it once either way (its record is keyed by recipient and id). */
	if (ct.token_state == STORE_TOKEN_OK && s->ops->open_sealed != NULL) {
		r = transmit_sealed(s, req, ct.token, timeout_ms, sent_ms);
		if (r != SOTTO_ERR_AUTH)
			goto out;
		if ((r = token_stale(s, &ct)) != 0)
			goto out;
	}
	if ((r = client_request(s, req, &resp, timeout_ms)) == 0)
		*sent_ms = resp.u.sent.timestamp;
out:
	sodium_memzero(&ct, sizeof(ct));
	free(req);
	buf_free(&env);
	return r;
}

/* A send refused for good is marked in the history, so it never shows as pending or sent. */
static int
mark_failed(struct sotto *s, const uint8_t id[STORE_MSGID_LEN])
{
	struct store_message m;
	int r;

	if ((r = store_message_get(s->st, id, &m)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;   /* receipts and timers have no entry */
	r = store_message_update(s->st, id, m.flags | STORE_FLAG_FAILED, m.expires_at);
	store_message_wipe(&m);
	return r;
}

/*
 * The server refused an item with SOTTO_ERR_IDENTITY_CHANGED: `to` registered a new
 * identity (a new device after `sottod accounts reset`), and the item's ratchet message
 * belongs to a session with a key nobody holds any more. The session is dropped, and a
 * text or mail goes back into the outbox as its content (from the history: same id and
 * history entry), to be sealed in a new session from the new bundle under the key-change
 * policy. Returns 1 if it was queued again, 0 if there is nothing to send again (a
 * receipt), or an error.
 */
static int
requeue_for_new_identity(struct sotto *s, struct store_outbox_item *it)
{
	struct store_message m;
	struct content c;
	struct buf item;
	uint8_t *copy;
	int r;

	if ((r = store_session_delete(s->st, it->recipient)) != 0 && r != SOTTO_ERR_NOT_FOUND)
		return r;
	if ((r = store_message_get(s->st, it->id, &m)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	r = 0;
	buf_init_dyn(&item, 1 + CONTENT_MAX);
	if (m.dir != STORE_DIR_OUT || (m.type != STORE_MSG_TEXT && m.type != STORE_MSG_MAIL &&
	    m.type != STORE_MSG_FILE))
		goto out;
	memset(&c, 0, sizeof(c));
	/* a file's entry keeps its whole content (file_transfer.h) */
	if (m.type == STORE_MSG_FILE && (r = content_decode(m.body, m.body_len, &c)) != 0)
		goto out;
	if (m.type != STORE_MSG_FILE) {
		c.type = m.type == STORE_MSG_TEXT ? CONTENT_TEXT : CONTENT_MAIL;
		c.body = m.body;
		c.body_len = m.body_len;
	}
	c.has_token = 0;
	memcpy(c.id, it->id, sizeof(c.id));
	/* The id's first 48 bits are its creation time in milliseconds (wire/msgid.h). */
	for (int i = 0; i < 6; i++)
		c.sent_ms = c.sent_ms << 8 | it->id[i];
	c.seq = 1;      /* set again when it is encrypted */
	buf_u8(&item, STORE_OUTBOX_CONTENT);
	if ((r = content_encode(&c, &item)) != 0 ||
	    (r = store_outbox_replace(s->st, it->id, it->recipient, item.p, item.len)) != 0)
		goto out;
	if ((copy = malloc(item.len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	memcpy(copy, item.p, item.len);
	store_blob_free(it->envelope, it->envelope_len);
	it->envelope = copy;
	it->envelope_len = item.len;
	r = 1;
out:
	buf_wipe_free(&item);
	store_message_wipe(&m);
	return r;
}

/*
 * One outbox item: sealed first if it waits as a content, then sent; refused for an
 * identity its recipient no longer has, it is sealed and sent once more in a new session.
 * Returns 1 if another process sent it; sent, *sent_ms is the server's receive time.
 */
static int
send_item(struct sotto *s, struct store_outbox_item *it, int timeout_ms, uint64_t *sent_ms)
{
	int r, again = 0;

	for (;;) {
		r = it->envelope_len > 0 && it->envelope[0] == STORE_OUTBOX_CONTENT ?
		    seal_queued(s, it, timeout_ms) : 0;
		if (r == 0)
			r = transmit(s, it, timeout_ms, sent_ms);
		if (r != SOTTO_ERR_IDENTITY_CHANGED || again++)
			return r;
		if ((r = requeue_for_new_identity(s, it)) != 1)
			return r < 0 ? r : SOTTO_ERR_IDENTITY_CHANGED;
	}
}

/* 1 if an earlier item of l (before i) went to the same recipient and was held back. */
static int
recipient_held(const struct store_outbox_list *l, const uint8_t *held, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (held[j] && strcmp(l->v[j].recipient, l->v[i].recipient) == 0)
			return 1;
	return 0;
}

int
client_flush_outbox(struct sotto *s, int timeout_ms, const uint8_t *watch, int *watch_r)
{
	struct store_outbox_list l = { 0 };
	uint8_t *held = NULL;
	uint64_t sent_ms = 0;
	int r, first = 0;
	size_t i;

	if (watch_r != NULL)
		*watch_r = 1;
	if (s->t == NULL)
		return SOTTO_ERR_CLOSED;
	if ((r = store_outbox_list(s->st, &l)) != 0)
		return r;
	if ((held = calloc(l.n ? l.n : 1, 1)) == NULL) {
		store_outbox_list_free(&l);
		return SOTTO_ERR_NOMEM;
	}
	for (i = 0; i < l.n; i++) {
		struct store_outbox_item *it = &l.v[i];

		/* Behind a message its recipient's full mailbox refused: stays, in order. */
		if (recipient_held(&l, held, i)) {
			held[i] = 1;
			if (watch != NULL && memcmp(watch, it->id, STORE_MSGID_LEN) == 0)
				*watch_r = SOTTO_ERR_MAILBOX_FULL;
			continue;
		}
		if ((r = store_outbox_attempt(s->st, it->id)) != 0)
			break;
		/* 1: another process sent it */
		if ((r = send_item(s, it, timeout_ms, &sent_ms)) == 1) {
			r = 0;
			continue;
		}
		if (watch != NULL && memcmp(watch, it->id, STORE_MSGID_LEN) == 0)
			*watch_r = r;
		if (r == 0 || (s->t != NULL && !status_transient(r))) {
			int rr = store_outbox_remove(s->st, it->id);

			if (rr == 0 && r != 0)
				rr = mark_failed(s, it->id);
			else if (rr == 0)       /* what a decryption-failure receipt names */
				rr = store_message_set_sent(s->st, it->id, sent_ms);
			if (rr != 0 && rr != SOTTO_ERR_NOT_FOUND) {
				r = rr;
				break;
			}
			if (r != 0 && first == 0)
				first = r;
			continue;
		}
		/* A full mailbox holds back its own recipient's messages only: they stay
		 * queued until it drains, and the messages to everyone else go on. */
		if (r == SOTTO_ERR_MAILBOX_FULL) {
			held[i] = 1;
			if (first == 0)
				first = r;
			continue;
		}
		break;
	}
	free(held);
	store_outbox_list_free(&l);
	if (r != 0 && first == 0)
		first = r;
	return first;
}

int
client_send_content(struct sotto *s, const char *to, struct content *c, int keep,
    int timeout_ms)
{
	return client_send_content_as(s, to, c, keep, timeout_ms, NULL);
}

int
client_send_content_as(struct sotto *s, const char *to, struct content *c, int keep,
    int timeout_ms, const uint8_t id[STORE_MSGID_LEN])
{
	struct store_contact ct;
	struct e2e_session *fresh = NULL;
	struct store_message m;
	struct buf item, fbody;
	char addr[ADDRESS_MAX + 1];
	uint64_t now = client_now();
	int have, r, conn_r, watch_r = 1;

	buf_init_dyn(&item, INNER_MAX);
	if ((r = address_user_normalize(to, addr)) != 0)
		return r;
	to = addr;
	if (!s->have_id || s->k->id.reg_state != STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	if ((have = client_contact_find(s, to, &ct)) < 0)
		return have;
	if (have && ct.trust == STORE_TRUST_BLOCKED)
		return SOTTO_ERR_UNTRUSTED_IDENTITY;
	conn_r = sotto_connect(s, timeout_ms);
	/* Refused for good, not unreachable: nothing to queue for a later connect. */
	if (conn_r == SOTTO_ERR_DEVICE_CLONED || conn_r == SOTTO_ERR_ACCOUNT_GONE) {
		r = conn_r;
		goto out;
	}
	/* A new session needs the network, so it is made before the transaction. Without the
	 * server the content is queued as it is; a refusal (no such user, a verified key that
	 * changed) is returned now and nothing is queued. */
	if ((r = client_session_exists(s, to)) < 0)
		goto out;
	if (r == 0 && conn_r == 0) {
		r = session_from_bundle(s, to, &ct, &have, &fresh, timeout_ms);
		if (r != 0 && s->t != NULL && !status_transient(r))
			goto out;
	} else if (r == 1 && conn_r == 0) {
		r = upgrade_classical(s, to, &ct, &have, &fresh, timeout_ms);
		if (r != 0 && s->t != NULL && !status_transient(r))
			goto out;
	}
	if ((r = store_begin(s->st)) != 0)
		goto out;
	c->sent_ms = client_now_ms();
	if (id != NULL)
		memcpy(c->id, id, sizeof(c->id));
	else
		msgid_new(c->id, c->sent_ms);
	r = seal_in_session(s, to, c, &ct, &fresh, &item);
	if (r == SOTTO_ERR_NO_SESSION) {
		/* the sequence number and timer are set when it is encrypted */
		c->seq = 1;
		c->expiry = have ? ct.expiry_seconds : 0;
		buf_reset(&item);
		buf_u8(&item, STORE_OUTBOX_CONTENT);
		r = content_encode(c, &item);
	}
	if (r != 0 || (r = store_outbox_add(s->st, c->id, to, item.p, item.len, now)) != 0)
		goto rollback;
	if (keep && (c->type == CONTENT_TEXT || c->type == CONTENT_MAIL ||
	    c->type == CONTENT_FILE)) {
		memset(&m, 0, sizeof(m));
		memcpy(m.peer, to, strlen(to) + 1);
		memcpy(m.id, c->id, sizeof(m.id));
		m.dir = STORE_DIR_OUT;
		m.type = c->type == CONTENT_TEXT ? STORE_MSG_TEXT :
		    c->type == CONTENT_MAIL ? STORE_MSG_MAIL : STORE_MSG_FILE;
		m.seq = c->seq;
		m.local_time = now;
		m.expires_at = c->expiry ? now + c->expiry : 0;
		m.body = (uint8_t *)(uintptr_t)c->body;
		m.body_len = c->body_len;
		/* a file's message keeps the whole content (file_transfer.h) */
		buf_init_dyn(&fbody, INNER_MAX);
		if (c->type == CONTENT_FILE && (r = content_encode(c, &fbody)) == 0) {
			m.body = fbody.p;
			m.body_len = fbody.len;
		}
		if (r != 0 || (r = store_message_add(s->st, &m)) != 0) {
			buf_wipe_free(&fbody);
			goto rollback;
		}
		buf_wipe_free(&fbody);
	}
	if ((r = store_commit(s->st)) != 0)
		goto rollback;
queued:
	/* Queued: from here on the message goes out, now or on a later connect. */
	/* the flush returns the first failure of any item; ours is in watch_r */
	if (s->t != NULL)
		r = client_flush_outbox(s, timeout_ms, c->id, &watch_r);
	/* still queued, or sent (here or by another process), or refused for good */
	if ((r = store_outbox_has(s->st, c->id)) == 1) {
		/* why, for sotto_queued_reason: the server's refusal for now, else why there
		 * was no connection (UNREACHABLE, NOT_SOTTO, ...), or none */
		s->queued_reason = watch_r < 0 ? watch_r :
		    conn_r < 0 && s->t == NULL ? conn_r : 0;
		r = SOTTO_ERR_QUEUED;
	} else if (r == 0)
		r = watch_r == 1 ? 0 : watch_r;
	goto out;
rollback:
	store_rollback(s->st);
	/* the id given was queued (or sent) by an earlier run: nothing more to queue */
	if (id != NULL && r == SOTTO_ERR_EXISTS) {
		watch_r = 1;
		goto queued;
	}
out:
	e2e_session_free(fresh);
	buf_wipe_free(&item);
	return r;
}

static int
send_body(struct sotto *s, const char *to, uint8_t type, const uint8_t *p, size_t len,
    uint8_t id[SOTTO_ID_LEN])
{
	struct content c;
	int r;

	if (p == NULL || len == 0 || len > SOTTO_TEXT_MAX)
		return len > SOTTO_TEXT_MAX ? SOTTO_ERR_MESSAGE_TOO_LARGE : SOTTO_ERR_INVALID_ARG;
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.body = p;
	c.body_len = len;
	r = client_send_content(s, to, &c, 1, CLIENT_TIMEOUT_MS);
	if (id != NULL)
		memcpy(id, c.id, SOTTO_ID_LEN);
	return r;
}

int
sotto_queued_reason(const struct sotto *s)
{
	return s->queued_reason;
}

int
sotto_send_text(struct sotto *s, const char *to, const char *text, size_t len,
    uint8_t id[SOTTO_ID_LEN])
{
	return send_body(s, to, CONTENT_TEXT, (const uint8_t *)text, len, id);
}

int
sotto_send_receipt(struct sotto *s, const char *to, enum sotto_receipt kind,
    const uint8_t (*ids)[SOTTO_ID_LEN], size_t n)
{
	struct content c;

	if (ids == NULL || n == 0 || n > SOTTO_RECEIPT_IDS_MAX ||
	    (kind != SOTTO_RECEIPT_DELIVERED && kind != SOTTO_RECEIPT_READ))
		return SOTTO_ERR_INVALID_ARG;
	memset(&c, 0, sizeof(c));
	c.type = CONTENT_RECEIPT;
	c.receipt_kind = kind == SOTTO_RECEIPT_READ ? CONTENT_READ : CONTENT_DELIVERED;
	c.ids = ids;
	c.n_ids = n;
	return client_send_content(s, to, &c, 0, CLIENT_TIMEOUT_MS);
}

int
sotto_flush(struct sotto *s, int timeout_ms)
{
	int r;

	if ((r = sotto_connect(s, timeout_ms)) != 0)
		return r;
	if ((r = client_flush_outbox(s, timeout_ms, NULL, NULL)) != 0 && s->t == NULL)
		return r;
	return sotto_outbox_count(s);
}

int
sotto_outbox_count(struct sotto *s)
{
	struct store_outbox_list l = { 0 };
	int r;

	if ((r = store_outbox_list(s->st, &l)) != 0)
		return r;
	r = (int)l.n;
	store_outbox_list_free(&l);
	return r;
}
