/*
 * Receiving: each pushed envelope is opened (sealed sender), its sender certificate
 * checked against the server's key, its expiry and the sealed sender identity, then
 * decrypted in the sender's session. The new session state, the contact (sequence
 * numbers, key changes) and the message are stored in one transaction; only then is the
 * envelope acknowledged (RECEIVED). An envelope that fails a check is acknowledged and
 * dropped with a warning event, so a hostile server cannot make us loop on it.
 */
#include "client/client_int.h"
#include "client/file_transfer.h"
#include "client/group_api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/mlkem.h"
#include "crypto/sealed.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"
#include "wire/address.h"
#include "wire/proto.h"

struct pending_receipt {
	char peer[STORE_ADDR_MAX + 1];
	uint8_t (*ids)[SOTTO_ID_LEN];
	size_t n;
};

/* What one poll collected for after the drain. */
struct poll_batch {
	uint64_t acks[CLIENT_ACK_BATCH];
	size_t n_acks;
	struct pending_receipt *rc;
	size_t n_rc;
	struct client_derr *derr;       /* decryption-failure receipts, one per peer */
	size_t n_derr;
	int events;
};

/* A warning: peer "" for an envelope whose sender is unknown. */
static void
emit_warning(sotto_event_fn cb, void *ctx, const char *peer, uint64_t time, unsigned warn,
    const char *reason, struct poll_batch *pb)
{
	struct sotto_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = SOTTO_EVENT_WARNING;
	ev.peer = peer;
	ev.time = time;
	ev.warnings = warn;
	ev.reason = reason;
	pb->events++;
	if (cb != NULL)
		cb(ctx, &ev);
}

/* Queues a decryption-failure receipt for after the drain (the first per peer). */
static void
derr_note(struct poll_batch *pb, int err, const struct sealed_opened *o, uint64_t server_ms)
{
	struct client_derr *nv;
	size_t i;

	for (i = 0; i < pb->n_derr; i++)
		if (strcmp(pb->derr[i].peer, o->sender_addr) == 0)
			return;
	if ((nv = realloc(pb->derr, (pb->n_derr + 1) * sizeof(*nv))) == NULL)
		return;         /* best effort: the user was told already */
	pb->derr = nv;
	client_derr_describe(&pb->derr[pb->n_derr++], err, o, server_ms);
}

static int
receipt_note(struct poll_batch *pb, const char *peer, const uint8_t id[SOTTO_ID_LEN])
{
	struct pending_receipt *p = NULL, *nv;
	uint8_t (*ids)[SOTTO_ID_LEN];
	size_t i;

	for (i = 0; i < pb->n_rc; i++)
		if (strcmp(pb->rc[i].peer, peer) == 0)
			p = &pb->rc[i];
	if (p == NULL) {
		if ((nv = realloc(pb->rc, (pb->n_rc + 1) * sizeof(*nv))) == NULL)
			return SOTTO_ERR_NOMEM;
		pb->rc = nv;
		p = &pb->rc[pb->n_rc++];
		memset(p, 0, sizeof(*p));
		memcpy(p->peer, peer, strlen(peer) + 1);
	}
	if ((ids = realloc(p->ids, (p->n + 1) * sizeof(*ids))) == NULL)
		return SOTTO_ERR_NOMEM;
	p->ids = ids;
	memcpy(p->ids[p->n++], id, SOTTO_ID_LEN);
	return 0;
}

/* What a successful decryption leaves to store besides the archive, which
 * decrypt_in_session updates itself (inside the transaction). */
struct decrypted {
	struct e2e_session *cur;            /* the new current session */
	uint32_t used_opk;              /* a one-time prekey to delete, 0 if none */
	uint32_t used_kem;              /* an ML-KEM prekey used (deleted if one-time), 0 if none */
};

static void
decrypted_free(struct decrypted *d)
{
	e2e_session_free(d->cur);
	memset(d, 0, sizeof(*d));
}

/* Errors of ours while decrypting (memory, the crypto library): the envelope is not
 * acknowledged and comes again. Every other error of a session or of X3DH was caused by
 * the envelope's bytes, or by a session it cannot be read in; it is acknowledged, so that
 * no envelope can block the mailbox. Errors of the store are always ours. */
static int
crypto_err_local(int r)
{
	return r == SOTTO_ERR_NOMEM || r == SOTTO_ERR_INTERNAL;
}

/* Which of the failures of one message in several sessions tells most about it. */
static int
session_err_rank(int r)
{
	switch (r) {
	case 0:
	case SOTTO_ERR_NO_SESSION: return 0;
	case SOTTO_ERR_STATE:               /* a prekey message for another session */
	case SOTTO_ERR_UNTRUSTED_IDENTITY:  /* a session with an identity the sender left */
		return 1;
	case SOTTO_ERR_CORRUPT: return 2;   /* a stored state that does not load */
	case SOTTO_ERR_REPLAY: return 4;
	case SOTTO_ERR_ROLLBACK: return 5;
	default: return 3;                  /* reached a session of its own and failed there */
	}
}

static void
note_failure(int *best, int r)
{
	if (session_err_rank(r) > session_err_rank(*best))
		*best = r;
}

/* Loads a session state and tries msg in it: 0, or *failed set (0 stays 0 only on
 * success), or an error of ours. */
static int
try_session(const uint8_t *state, size_t state_len, const struct sealed_opened *o,
    struct e2e_session **out, struct buf *pt, int *failed)
{
	struct e2e_session *ss = NULL;
	const uint8_t *rid;
	size_t idlen = 0;
	int r;

	*failed = 0;
	if ((r = e2e_session_deserialize(&ss, &suite_native, state, state_len)) != 0) {
		if (crypto_err_local(r))
			return r;
		*failed = SOTTO_ERR_CORRUPT;
		return 0;
	}
	rid = e2e_session_remote_identity(ss, &idlen);
	if (idlen != 32 || sodium_memcmp(rid, o->sender_ident, 32) != 0)
		r = SOTTO_ERR_UNTRUSTED_IDENTITY;
	else
		r = e2e_session_decrypt(ss, pt, o->msg_type, o->msg, o->msg_len);
	if (r != 0) {
		e2e_session_free(ss);
		buf_reset(pt);
		if (crypto_err_local(r))
			return r;
		*failed = r;
		return 0;
	}
	*out = ss;
	return 0;
}

/* One of our prekeys named by a prekey message: 0, *failed for one we do not have (or
 * whose record is damaged), or an error of the store. */
static int
prekey_lookup(int r, int *failed)
{
	if (r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_CORRUPT) {
		*failed = r;
		return 0;
	}
	return r;
}

/* The decapsulation key (sodium_malloc'd into *dk) of our ML-KEM prekey id; *failed as
 * in prekey_lookup. */
static int
kem_lookup(struct sotto *s, uint32_t id, uint8_t **dk, int *failed)
{
	struct store_kem_prekey k;
	int r;

	*dk = NULL;
	if ((r = prekey_lookup(store_kem_prekey_get(s->st, id, &k), failed)) != 0 || *failed)
		return r;
	if ((*dk = sodium_malloc(MLKEM768_DK_LEN)) == NULL)
		r = SOTTO_ERR_NOMEM;
	else
		memcpy(*dk, k.dk, MLKEM768_DK_LEN);
	store_kem_prekey_wipe(&k);
	return r;
}

/* Starts the responder's session from a prekey message; *failed as in try_session. */
static int
respond_prekey(struct sotto *s, const struct sealed_opened *o, struct decrypted *d,
    struct buf *pt, int *failed)
{
	struct x3dh_init_info info;
	struct store_spk spk;
	struct x3dh_keypair kspk, kopk;
	struct e2e_session_opts opts;
	uint8_t *kem_dk = NULL;         /* SECRET */
	int r, have_opk = 0;

	*failed = 0;
	memset(&opts, 0, sizeof(opts));
	memset(&kspk, 0, sizeof(kspk));
	memset(&kopk, 0, sizeof(kopk));
	if ((r = e2e_session_prekey_info(&suite_native, &info, o->msg, o->msg_len)) != 0) {
		*failed = r;
		r = 0;
		goto out;
	}
	/* The session's identity must be the one the certificate vouches for. */
	if (info.ident_pub_len != 32 || sodium_memcmp(info.ident_pub, o->sender_ident, 32) != 0) {
		*failed = SOTTO_ERR_UNTRUSTED_IDENTITY;
		goto out;
	}
	if ((r = prekey_lookup(store_spk_get(s->st, info.spk_id, &spk), failed)) != 0 || *failed)
		goto out;
	kspk.id = spk.id;
	memcpy(kspk.pub, spk.pk, 32);
	memcpy(kspk.sec, spk.sk, 32);
	store_spk_wipe(&spk);
	if (info.has_opk) {
		if ((r = prekey_lookup(store_otpk_get(s->st, info.opk_id, kopk.pub, kopk.sec),
		    failed)) != 0 || *failed)
			goto out;
		kopk.id = info.opk_id;
		have_opk = 1;
	}
	if (info.has_kem) {
		if ((r = kem_lookup(s, info.kem_id, &kem_dk, failed)) != 0 || *failed)
			goto out;
		opts.kem_dk = kem_dk;
	} else if ((r = sotto_require_pq(s)) != 0) {
		/* A classical first message while post-quantum sessions are required. */
		if (r > 0)
			*failed = SOTTO_ERR_CLASSICAL_REFUSED;
		r = r > 0 ? 0 : r;
		goto out;
	}
	r = e2e_session_respond(&d->cur, &suite_native, &s->k->xid, &kspk, have_opk ? &kopk : NULL,
	    o->msg, o->msg_len, pt, &opts);
	if (r != 0 && !crypto_err_local(r)) {
		*failed = r;
		r = 0;
	}
	if (r == 0 && *failed == 0 && have_opk)
		d->used_opk = info.opk_id;
	if (r == 0 && *failed == 0 && info.has_kem)
		d->used_kem = info.kem_id;
out:
	x3dh_keypair_wipe(&kspk);
	x3dh_keypair_wipe(&kopk);
	sodium_free(kem_dk);
	return r;
}

/*
 * Decrypts in the sender's current session, or in one of its archived sessions (which
 * then becomes current, the current one taking its place in the archive), or starts a
 * new one from a prekey message (the current one is archived). A prekey message that
 * reached a known session (its base key is known) never starts a new one: a replay of a
 * first message must not reset the conversation.
 *
 * Returns an error of ours (nothing decided; the envelope comes again), or 0 with
 * *failed = 0 (decrypted: d->cur) or the most telling failure across the sessions tried
 * (session_err_rank), caused by the envelope.
 */
static int
decrypt_in_session(struct sotto *s, const struct sealed_opened *o, int key_changed,
    struct decrypted *d, struct buf *pt, int *failed)
{
	struct client_archive a;
	uint8_t *cur = NULL, *st = NULL;
	size_t cur_len = 0, st_len = 0, i;
	int r, f = 0, best = SOTTO_ERR_NO_SESSION, cur_ok = 0;

	memset(d, 0, sizeof(*d));
	*failed = 0;
	if (!key_changed) {
		r = store_session_get(s->st, o->sender_addr, &cur, &cur_len);
		if (r == 0) {
			if ((r = try_session(cur, cur_len, o, &d->cur, pt, &f)) != 0 || f == 0)
				goto out;
			cur_ok = f != SOTTO_ERR_CORRUPT;
			note_failure(&best, f);
		} else if (r == SOTTO_ERR_CORRUPT) {
			note_failure(&best, r);
		} else if (r != SOTTO_ERR_NOT_FOUND) {
			goto out;
		}
	}
	/* The archive only now: the current session reads nearly every message. */
	if ((r = client_archive_load(s, o->sender_addr, &a)) != 0)
		goto out;
	if (!key_changed) {
		for (i = 0; i < a.n; i++) {
			r = client_archive_get(s, &a, i, &st, &st_len);
			if (r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_CORRUPT) {
				note_failure(&best, r);
				continue;
			}
			if (r != 0)
				goto out;
			r = try_session(st, st_len, o, &d->cur, pt, &f);
			store_blob_free(st, st_len);
			st = NULL;
			if (r != 0)
				goto out;
			if (f == 0) {
				/* In use again: it becomes current, the current one takes its place. */
				r = cur_ok ? client_archive_put(s, &a, (long)i, cur, cur_len) :
				    client_archive_remove(s, &a, i);
				goto out;
			}
			note_failure(&best, f);
		}
	}
	f = best;
	r = 0;
	if (o->msg_type != E2E_SESSION_MSG_PREKEY || session_err_rank(best) >= 3)
		goto out;
	if ((r = respond_prekey(s, o, d, pt, &f)) == 0 && f == 0 && cur_ok)
		r = client_archive_put(s, &a, -1, cur, cur_len);
out:
	if (r != 0 || f != 0)
		decrypted_free(d);
	if (r == 0)
		*failed = f;
	store_blob_free(cur, cur_len);
	return r;
}

static const char *
reject_reason(int r)
{
	switch (r) {
	case SOTTO_ERR_EXPIRED: return "expired sender certificate";
	case SOTTO_ERR_BAD_SIGNATURE: return "sender certificate not signed by our server";
	case SOTTO_ERR_UNTRUSTED_IDENTITY: return "sender identity does not match";
	case SOTTO_ERR_NO_SESSION:
		return "no session with the sender; they are asked to start a new one";
	case SOTTO_ERR_NOT_FOUND: return "unknown prekey; the sender is asked to start a new session";
	case SOTTO_ERR_CORRUPT:
		return "our session with the sender is damaged; they are asked to start a new one";
	case SOTTO_ERR_ROLLBACK:
		return "dropped: the sender reused a message number for other content (its store "
		    "was probably restored from an older copy); ask them to send it again";
	default: return "message could not be decrypted; the sender is told";
	}
}

/* Marks our message that the receipt names (the server's receive time of it, which its
 * SEND answer gave us) unreadable in the history. None: sent before we recorded that
 * time, or expired. */
static int
mark_unreadable(struct sotto *s, const char *peer, uint64_t time_ms)
{
	struct store_message m;
	uint8_t id[STORE_MSGID_LEN];
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = store_message_find_sent(s->st, peer, time_ms, id)) != 0 ||
	    (r = store_message_get(s->st, id, &m)) != 0)
		goto out;
	r = store_message_update(s->st, id, m.flags | STORE_FLAG_UNREADABLE, m.expires_at);
out:
	store_message_wipe(&m);
	return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}

/* A decryption-failure receipt from peer: tell the user (and archive the session). */
static int
handle_decrypt_error(struct sotto *s, const struct sealed_opened *o, sotto_event_fn cb,
    void *ctx, struct poll_batch *pb)
{
	struct client_derr d;
	char text[STORE_ADDR_MAX + 160];
	int r, archived;

	r = client_derr_receive(s, o, &d, &archived);
	if (r != 0 && r != SOTTO_ERR_MALFORMED && r != SOTTO_ERR_NO_SESSION)
		return r;       /* the store's: try again later */
	if (r != 0) {
		/* Never answered with a receipt: no loops. */
		emit_warning(cb, ctx, o->sender_addr, 0, SOTTO_WARN_REJECTED,
		    r == SOTTO_ERR_MALFORMED ? "malformed decryption-failure receipt" :
		    "decryption-failure receipt from someone we have no session with", pb);
		return 0;
	}
	if ((r = mark_unreadable(s, o->sender_addr, d.e.time_ms)) != 0)
		return r;
	client_derr_text(text, sizeof(text), &d, archived);
	emit_warning(cb, ctx, o->sender_addr, d.e.time_ms / 1000, SOTTO_WARN_UNREADABLE, text, pb);
	return 0;
}

/* Marks our messages delivered or read after a receipt. */
static int
apply_receipt(struct sotto *s, const char *peer, const struct content *c)
{
	struct store_message m;
	uint32_t flag = c->receipt_kind == CONTENT_READ ?
	    (STORE_FLAG_READ | STORE_FLAG_DELIVERED) : STORE_FLAG_DELIVERED;
	size_t i;
	int r;

	for (i = 0; i < c->n_ids; i++) {
		r = store_message_get(s->st, c->ids[i], &m);
		if (r == SOTTO_ERR_NOT_FOUND)
			continue;
		if (r != 0)
			return r;
		if (m.dir == STORE_DIR_OUT && strcmp(m.peer, peer) == 0 && (m.flags & flag) != flag)
			r = store_message_update(s->st, m.id, m.flags | flag, m.expires_at);
		store_message_wipe(&m);
		if (r != 0)
			return r;
	}
	return 0;
}

/* A received file: its message keeps the whole content (without the token field), and it
 * joins the files to fetch, in the caller's transaction. */
static int
store_file(struct sotto *s, const struct sealed_opened *o, const struct content *c,
    const struct proto_push *push, uint32_t flags, uint64_t now)
{
	struct store_message m;
	struct content k = *c;
	struct buf b;
	int r;

	k.has_token = 0;
	buf_init_dyn(&b, RATCHET_PLAINTEXT_MAX);
	if ((r = content_encode(&k, &b)) != 0)
		goto out;
	memset(&m, 0, sizeof(m));
	memcpy(m.peer, o->sender_addr, o->sender_addr_len + 1);
	memcpy(m.id, c->id, sizeof(m.id));
	m.dir = STORE_DIR_IN;
	m.type = STORE_MSG_FILE;
	m.flags = flags;
	m.seq = c->seq;
	m.server_time = push->timestamp / 1000;
	m.local_time = now;
	m.expires_at = c->expiry ? now + c->expiry : 0;
	m.body = b.p;
	m.body_len = b.len;
	if ((r = store_message_add(s->st, &m)) == 0)
		r = file_pending_add(s, c->id);
out:
	sodium_memzero(&k, sizeof(k));
	buf_wipe_free(&b);
	return r;
}

/* Stores a text, mail, file, receipt, timer or token in the open transaction. */
static int
store_content(struct sotto *s, const struct sealed_opened *o, const struct content *c,
    const struct proto_push *push, uint32_t flags, uint64_t now, struct client_mail_in *mail)
{
	struct store_message m;
	int r;

	if (c->type == CONTENT_FILE)
		return store_file(s, o, c, push, flags, now);
	if (c->type == CONTENT_TEXT || c->type == CONTENT_MAIL) {
		memset(&m, 0, sizeof(m));
		memcpy(m.peer, o->sender_addr, o->sender_addr_len + 1);
		memcpy(m.id, c->id, sizeof(m.id));
		m.dir = STORE_DIR_IN;
		m.type = c->type == CONTENT_TEXT ? STORE_MSG_TEXT : STORE_MSG_MAIL;
		m.flags = flags;
		m.seq = c->seq;
		m.server_time = push->timestamp / 1000;
		m.local_time = now;
		m.expires_at = c->expiry ? now + c->expiry : 0;
		m.body = (uint8_t *)(uintptr_t)c->body;
		m.body_len = c->body_len;
		/* a mail is filed once it is whole (mail_in.c): 1 then, 0 for a part */
		if (c->type == CONTENT_MAIL)
			return client_mail_receive(s->st, &m, NULL, mail);
		return store_message_add(s->st, &m);
	}
	if ((r = store_seen_add(s->st, c->id, now)) == 0 && c->type == CONTENT_RECEIPT)
		r = apply_receipt(s, o->sender_addr, c);
	return r;
}

/*
 * One pushed envelope. Everything from reading the sender's session to storing the
 * result is one write transaction (BEGIN IMMEDIATE), so another process on the same
 * store (a daemon and a `sotto send`) cannot interleave ratchet updates. Returns 0 when
 * the envelope may be acknowledged (stored, a duplicate, or rejected), else an error of
 * ours (nothing stored, not acknowledged, tried again later).
 */
static int
handle_envelope(struct sotto *s, const struct proto_push *push, sotto_event_fn cb,
    void *ctx, struct poll_batch *pb)
{
	struct sealed_opened o;
	struct cert_sender cs;
	struct store_contact ct;
	struct decrypted d;
	struct content c;
	struct client_mail_in mail;
	struct sotto_event ev;
	struct buf pt, ser;
	uint64_t now = client_now(), gap = 0;
	uint32_t flags = 0;
	unsigned warn = 0;
	const char *reject = NULL, *reject_peer = "";
	int r, have, key_changed = 0, seen = 0, in_tx = 0, deliver = 0, failed = 0, shown;

	memset(&o, 0, sizeof(o));
	memset(&d, 0, sizeof(d));
	memset(&mail, 0, sizeof(mail));
	buf_init_dyn(&pt, RATCHET_PLAINTEXT_MAX);
	buf_init_dyn(&ser, STORE_SESSION_MAX);
	if ((r = sealed_open(&o, &s->k->xid, push->envelope, push->envelope_len)) != 0) {
		reject = "envelope could not be opened";
		r = 0;
		goto out;
	}
	/* Valid when the server accepted the envelope, so a message that waited in the
	 * mailbox longer than a certificate lives still opens. The server signs the
	 * certificates anyway: trusting its clock here gives it nothing it lacks. */
	r = cert_verify(o.cert, o.cert_len, s->server_pk,
	    push->timestamp != 0 ? push->timestamp / 1000 : now, &cs);
	if (r == 0 && (strcmp(cs.address, o.sender_addr) != 0 ||
	    sodium_memcmp(cs.identity_pk, o.sender_ident, 32) != 0))
		r = SOTTO_ERR_UNTRUSTED_IDENTITY;
	if (r != 0) {
		reject = r == SOTTO_ERR_UNTRUSTED_IDENTITY ?
		    "sender certificate does not match the sender" :
		    r == SOTTO_ERR_MALFORMED ? "malformed sender certificate" : reject_reason(r);
		r = 0;
		goto out;
	}
	if (o.msg_type == E2E_SESSION_MSG_DECRYPT_ERROR) {
		r = handle_decrypt_error(s, &o, cb, ctx, pb);
		goto out;
	}
	if ((r = store_begin(s->st)) != 0)
		goto out;
	in_tx = 1;
	if ((have = client_contact_find(s, o.sender_addr, &ct)) < 0) {
		r = have;
		goto out;
	}
	key_changed = have && sodium_memcmp(ct.identity_pk, o.sender_ident, 32) != 0;
	if ((r = decrypt_in_session(s, &o, key_changed, &d, &pt, &failed)) != 0)
		goto out;
	if (failed == SOTTO_ERR_REPLAY)
		goto out;       /* already stored: a redelivery */
	if (failed != 0) {
		/* The envelope's fault (or a session it cannot be read in): acknowledged,
		 * reported to the user and, as the sender is known, to the sender. */
		reject = reject_reason(failed);
		reject_peer = o.sender_addr;
		derr_note(pb, failed, &o, push->timestamp);
		goto out;
	}
	if ((r = e2e_session_serialize(d.cur, &ser)) != 0)
		goto out;
	if (content_decode(pt.p, pt.len, &c) != 0) {
		/* The session advanced: keep it, drop the content. */
		if ((r = store_session_put(s->st, o.sender_addr, ser.p, ser.len)) != 0 ||
		    (r = store_commit(s->st)) != 0)
			goto out;
		in_tx = 0;
		reject = "malformed content";
		reject_peer = o.sender_addr;
		goto out;
	}
	if ((seen = store_seen_has(s->st, c.id)) < 0) {
		r = seen;
		goto out;
	}
	if (!have) {
		memset(&ct, 0, sizeof(ct));
		memcpy(ct.address, o.sender_addr, o.sender_addr_len + 1);
		memcpy(ct.identity_pk, o.sender_ident, 32);
		ct.trust = STORE_TRUST_OK;
		ct.first_seen = now;
		ct.send_seq = 1;
		warn |= SOTTO_WARN_NEW_CONTACT;
	} else if (key_changed) {
		memcpy(ct.identity_pk, o.sender_ident, 32);
		ct.changed_at = now;
		ct.recv_seq = 0;
		ct.send_seq = 1;
		store_contact_token_reset(&ct);
		ct.trust = ct.verified ? STORE_TRUST_BLOCKED : STORE_TRUST_CHANGED;
		warn |= SOTTO_WARN_KEY_CHANGED;
		flags |= STORE_FLAG_KEY_CHANGED;
	}
	if (ct.trust == STORE_TRUST_BLOCKED)
		warn |= SOTTO_WARN_KEY_BLOCKED;
	if (!seen) {
		if (c.seq > ct.recv_seq + 1) {
			gap = c.seq - ct.recv_seq - 1;
			warn |= SOTTO_WARN_GAP;
			flags |= STORE_FLAG_GAP_BEFORE;
		}
		if (c.seq > ct.recv_seq)
			ct.recv_seq = c.seq;
		if (c.type != CONTENT_RECEIPT && c.type != CONTENT_TOKEN)
			ct.expiry_seconds = c.expiry;
		/* The contact's delivery token: the newest in its sequence wins. */
		if (c.has_token && c.seq >= ct.token_seq) {
			memcpy(ct.token, c.token, sizeof(ct.token));
			ct.token_seq = c.seq;
			ct.token_state = STORE_TOKEN_OK;
		}
	}
	if ((r = store_session_put(s->st, o.sender_addr, ser.p, ser.len)) != 0 ||
	    (r = store_contact_put(s->st, &ct)) != 0)
		goto out;
	if (d.used_opk != 0 && (r = store_otpk_delete(s->st, d.used_opk)) != 0 &&
	    r != SOTTO_ERR_NOT_FOUND)
		goto out;
	/* A one-time ML-KEM prekey goes with its first use; a last-resort one stays. */
	if (d.used_kem != 0 && (r = store_kem_prekey_use(s->st, d.used_kem)) != 0 &&
	    r != SOTTO_ERR_NOT_FOUND)
		goto out;
	if (!seen && (r = store_content(s, &o, &c, push, flags, now, &mail)) < 0)
		goto out;
	/* a part of a mail is no event; the mail is, once whole */
	shown = !seen && c.type != CONTENT_TOKEN && (c.type != CONTENT_MAIL || r == 1);
	if ((r = store_commit(s->st)) != 0)
		goto out;
	in_tx = 0;
	deliver = shown;
out:
	if (in_tx)
		store_rollback(s->st);
	if (reject != NULL)
		emit_warning(cb, ctx, reject_peer, push->timestamp / 1000, SOTTO_WARN_REJECTED,
		    reject, pb);
	if (deliver) {
		memset(&ev, 0, sizeof(ev));
		ev.peer = o.sender_addr;
		memcpy(ev.id, c.id, SOTTO_ID_LEN);
		ev.time = push->timestamp / 1000;
		ev.sent = c.sent_ms;
		ev.warnings = warn;
		ev.gap = gap;
		switch (c.type) {
		case CONTENT_TEXT:
		case CONTENT_MAIL:
		case CONTENT_FILE:
			ev.type = SOTTO_EVENT_MESSAGE;
			ev.content = c.type == CONTENT_TEXT ? SOTTO_CONTENT_TEXT :
			    c.type == CONTENT_MAIL ? SOTTO_CONTENT_MAIL : SOTTO_CONTENT_FILE;
			ev.body = c.body;
			ev.body_len = c.body_len;
			if (c.type == CONTENT_MAIL) {
				memcpy(ev.id, mail.id, SOTTO_ID_LEN);
				ev.body = mail.body;
				ev.body_len = mail.len;
			}
			ev.expires_at = c.expiry ? now + c.expiry : 0;
			if (s->auto_receipts)
				r = receipt_note(pb, o.sender_addr, ev.id);
			break;
		case CONTENT_RECEIPT:
			ev.type = SOTTO_EVENT_RECEIPT;
			ev.receipt = c.receipt_kind == CONTENT_READ ? SOTTO_RECEIPT_READ :
			    SOTTO_RECEIPT_DELIVERED;
			ev.receipt_ids = c.ids;
			ev.n_receipt_ids = c.n_ids;
			break;
		default:
			ev.type = SOTTO_EVENT_TIMER;
			ev.expiry = c.expiry;
			break;
		}
		pb->events++;
		if (cb != NULL)
			cb(ctx, &ev);
		/* A receipt that cannot be noted is not a reason to receive again. */
		r = 0;
	}
	client_mail_in_free(&mail);
	decrypted_free(&d);
	sealed_opened_free(&o);
	buf_wipe_free(&pt);
	buf_wipe_free(&ser);
	return r;
}

static int
send_acks(struct sotto *s, struct poll_batch *pb)
{
	struct proto_msg *req, resp;
	int r;

	if (pb->n_acks == 0)
		return 0;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return SOTTO_ERR_NOMEM;
	req->type = PROTO_RECEIVED;
	req->u.received.n = pb->n_acks;
	memcpy(req->u.received.ids, pb->acks, pb->n_acks * sizeof(pb->acks[0]));
	r = client_request(s, req, &resp, CLIENT_TIMEOUT_MS);
	free(req);
	if (r == 0)
		pb->n_acks = 0;
	return r;
}

static int
send_receipts(struct sotto *s, struct poll_batch *pb)
{
	size_t i, off, n;
	int r = 0, rr;

	for (i = 0; i < pb->n_rc; i++) {
		for (off = 0; off < pb->rc[i].n; off += n) {
			n = pb->rc[i].n - off;
			if (n > SOTTO_RECEIPT_IDS_MAX)
				n = SOTTO_RECEIPT_IDS_MAX;
			rr = sotto_send_receipt(s, pb->rc[i].peer, SOTTO_RECEIPT_DELIVERED,
			    (const uint8_t (*)[SOTTO_ID_LEN])pb->rc[i].ids + off, n);
			/* A refused receipt (e.g. an untrusted key) is not worth failing for. */
			if (rr != 0 && r == 0 && s->t == NULL)
				r = rr;
		}
		free(pb->rc[i].ids);
	}
	free(pb->rc);
	pb->rc = NULL;
	pb->n_rc = 0;
	return r;
}

/* Best effort, like Signal's: a receipt that cannot go out now is not retried (the
 * recipient's user was told about the failure either way). */
static void
send_decrypt_errors(struct sotto *s, struct poll_batch *pb)
{
	size_t i;

	for (i = 0; i < pb->n_derr; i++)
		if (s->t != NULL)
			client_derr_send(s, &pb->derr[i], CLIENT_TIMEOUT_MS);
	sodium_memzero(pb->derr, pb->n_derr * sizeof(*pb->derr));
	free(pb->derr);
	pb->derr = NULL;
	pb->n_derr = 0;
}

int
sotto_poll(struct sotto *s, int timeout_ms, sotto_event_fn cb, void *ctx)
{
	struct poll_batch pb;
	struct proto_msg ev;
	int r = 0, wait = timeout_ms;
	uint64_t deadline = client_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	sotto_close_idle(s);
	if (s->t == NULL)
		return SOTTO_ERR_CLOSED;
	memset(&pb, 0, sizeof(pb));
	if ((r = sotto_expire(s)) < 0)
		return r;
	if ((r = client_group_unshown(s, cb, ctx, &pb.events)) != 0)
		return r;
	for (;;) {
		r = s->ops->next_event(s->t, &ev, wait);
		if (r == SOTTO_ERR_TIMEOUT) {
			/* Drained for now: acknowledge what is stored before waiting again. */
			r = 0;
			if ((r = send_acks(s, &pb)) != 0)
				break;
			uint64_t nowms = client_now_ms();
			if (nowms >= deadline)
				break;
			wait = (int)(deadline - nowms);
			continue;
		}
		if (r != 0) {
			client_conn_failed(s, r);
			break;
		}
		if (ev.type == PROTO_PUSH) {
			if ((r = handle_envelope(s, &ev.u.push, cb, ctx, &pb)) != 0)
				break;
			pb.acks[pb.n_acks++] = ev.u.push.envelope_id;
			if (pb.n_acks == CLIENT_ACK_BATCH && (r = send_acks(s, &pb)) != 0)
				break;
		} else if (ev.type == PROTO_GROUP_PUSH) {
			if ((r = client_group_push(s, &ev.u.group_push, cb, ctx, &pb.events)) != 0)
				break;
		} else if (ev.type == PROTO_PREKEY_LOW) {
			s->prekeys_low = 1;
		} else if (ev.type == PROTO_KEY_PACKAGE_LOW) {
			s->key_packages_low = 1;
		}
		wait = 0;
	}
	if (r == 0 && s->t != NULL)
		r = send_acks(s, &pb);
	if (r == 0 && s->t != NULL && s->prekeys_low) {
		if ((r = client_upload_prekeys(s, 0, CLIENT_OTPK_BATCH, CLIENT_OTPK_BATCH,
		    CLIENT_TIMEOUT_MS)) == 0)
			s->prekeys_low = 0;
	}
	if (r == 0 && s->t != NULL && s->key_packages_low) {
		if ((r = client_key_packages_replenish(s, 1, CLIENT_TIMEOUT_MS)) == 0)
			s->key_packages_low = 0;
	}
	if (r == 0 && s->t != NULL && client_now() >= s->next_maintain)
		r = client_maintain_spk(s, CLIENT_TIMEOUT_MS);
	send_decrypt_errors(s, &pb);
	if (r == 0)
		r = send_receipts(s, &pb);
	else
		(void)send_receipts(s, &pb);
	return r != 0 ? r : pb.events;
}

const char *
sotto_warning_text(unsigned w)
{
	switch (w) {
	case SOTTO_WARN_NEW_CONTACT: return "new contact: identity key trusted on first use";
	case SOTTO_WARN_KEY_CHANGED: return "identity key changed";
	case SOTTO_WARN_KEY_BLOCKED:
		return "identity key of a verified contact changed: sending refused until 'sotto trust'";
	case SOTTO_WARN_GAP: return "messages missing before this one";
	case SOTTO_WARN_REJECTED: return "a message was rejected";
	case SOTTO_WARN_UNREADABLE: return "peer could not read a message of ours";
	default: return "unknown warning";
	}
}

struct event_list {
	struct sotto_event *v;
	size_t n, cap;
	int err;
};

static void *
dup_bytes(const void *p, size_t len, size_t extra)
{
	uint8_t *q = malloc(len + extra);

	if (q != NULL) {
		if (len > 0)
			memcpy(q, p, len);
		memset(q + len, 0, extra);
	}
	return q;
}

static void
event_copies_free(struct sotto_event *e)
{
	size_t i;

	for (i = 0; e->members != NULL && i < e->n_members; i++)
		free((void *)(uintptr_t)e->members[i]);
	free((void *)(uintptr_t)e->members);
	free((void *)(uintptr_t)e->group);
	free((void *)(uintptr_t)e->group_name);
	free((void *)(uintptr_t)e->peer);
	if (e->body != NULL) {
		sodium_memzero((void *)(uintptr_t)e->body, e->body_len);
		free((void *)(uintptr_t)e->body);
	}
	free((void *)(uintptr_t)e->receipt_ids);
}

/* Copies an event so that it outlives the callback. */
static void
collect_event(void *ctx, const struct sotto_event *ev)
{
	struct event_list *l = ctx;
	struct sotto_event *e, *nv;
	size_t ncap;

	if (l->err != 0)
		return;
	if (l->n == l->cap) {
		ncap = l->cap ? 2 * l->cap : 16;
		if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL) {
			l->err = SOTTO_ERR_NOMEM;
			return;
		}
		l->v = nv;
		l->cap = ncap;
	}
	e = &l->v[l->n];
	*e = *ev;
	e->peer = dup_bytes(ev->peer, strlen(ev->peer), 1);
	e->body = ev->body != NULL ? dup_bytes(ev->body, ev->body_len, 1) : NULL;
	e->receipt_ids = ev->receipt_ids != NULL ?
	    dup_bytes(ev->receipt_ids, ev->n_receipt_ids * SOTTO_ID_LEN, 0) : NULL;
	e->group = ev->group != NULL ? dup_bytes(ev->group, strlen(ev->group), 1) : NULL;
	e->group_name = ev->group_name != NULL ?
	    dup_bytes(ev->group_name, strlen(ev->group_name), 1) : NULL;
	e->members = NULL;
	e->n_members = 0;
	if (ev->n_members > 0 && (e->members = calloc(ev->n_members, sizeof(char *))) != NULL) {
		for (; e->n_members < ev->n_members; e->n_members++) {
			const char *m = ev->members[e->n_members];
			char **mv = (char **)(uintptr_t)e->members;

			if ((mv[e->n_members] = dup_bytes(m, strlen(m), 1)) == NULL)
				break;
		}
	}
	if (e->peer == NULL || (ev->body != NULL && e->body == NULL) ||
	    (ev->receipt_ids != NULL && e->receipt_ids == NULL) ||
	    (ev->group != NULL && e->group == NULL) ||
	    (ev->group_name != NULL && e->group_name == NULL) ||
	    e->n_members != ev->n_members) {
		event_copies_free(e);
		l->err = SOTTO_ERR_NOMEM;
		return;
	}
	l->n++;
}

int
sotto_receive(struct sotto *s, int timeout_ms, struct sotto_event **out, size_t *n)
{
	struct event_list l = { 0 };
	int r;

	*out = NULL;
	*n = 0;
	r = sotto_poll(s, timeout_ms, collect_event, &l);
	if (r >= 0 && l.err != 0)
		r = l.err;
	*out = l.v;
	*n = l.n;
	return r;
}

void
sotto_events_free(struct sotto_event *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		event_copies_free(&v[i]);
	free(v);
}
