/*
 * A member's side of Sotto groups: create, add, remove, leave, send, and what each
 * incoming MLSMessage does (client/group.h). Every call loads the group's MLS state from
 * the store, works on it, and writes it back before it returns the bytes to send or the
 * event: a message is never sent, nor an incoming one acknowledged, before the state it
 * leaves behind is durable.
 */
#include "client/client_int.h"
#include "client/group.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"
#include "client/group_content.h"
#include "crypto/rand.h"
#include "mls/credential.h"
#include "mls/group_application.h"
#include "mls/group_remove.h"
#include "mls/group_state.h"
#include "mls/join.h"
#include "mls/key_package.h"
#include "mls/key_schedule.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/proposal.h"
#include "mls/tls_codec.h"

_Static_assert(STORE_GROUP_ID_MAX == MLS_GROUP_ID_MAX, "one group id cap");
_Static_assert(STORE_GROUP_STATE_MAX == MLS_GROUP_STATE_MAX, "one group state cap");
_Static_assert(CLIENT_GROUP_MESSAGE_MAX == MLS_MESSAGE_MAX, "one message cap");
_Static_assert(SOTTO_TEXT_MAX <= MLS_APPLICATION_MAX - GROUP_CONTENT_HEADER_LEN - 4,
    "a text fits an application message");

/* A group as loaded: its store record and its MLS state. */
struct loaded {
	struct store_group rec;         /* rec.state: the bytes it was loaded from */
	struct mls_group g;             /* SECRET */
	int has_g;
};

int
client_tx_begin(struct sotto *s, int *own)
{
	int r = store_begin(s->st);

	*own = r == 0;
	return r == SOTTO_ERR_STATE ? 0 : r;   /* STATE: inside the caller's transaction */
}

int
client_tx_end(struct sotto *s, int own, int r)
{
	if (!own)
		return r;
	if (r == 0)
		return store_commit(s->st);
	store_rollback(s->st);
	return r;
}

static void
unload(struct loaded *lg)
{
	if (lg->has_g)
		mls_group_free(&lg->g);
	store_group_wipe(&lg->rec);
	lg->has_g = 0;
}

static int
load(struct sotto *s, const uint8_t *id, size_t id_len, struct loaded *lg)
{
	int r;

	memset(lg, 0, sizeof(*lg));
	if ((r = store_group_get(s->st, id, id_len, &lg->rec)) != 0)
		return r;
	/* The stored state is ours and sealed: one that does not read is corrupt. */
	if ((r = mls_group_state_read(&lg->g, lg->rec.state, lg->rec.state_len)) != 0) {
		store_group_wipe(&lg->rec);
		return r == SOTTO_ERR_NOMEM ? r : SOTTO_ERR_CORRUPT;
	}
	lg->has_g = 1;
	return 0;
}

/* The group's state and record written back, in a transaction (ours or the caller's). */
static int save(struct sotto *s, struct loaded *lg);

static int
save_tx(struct sotto *s, struct loaded *lg)
{
	int r, own;

	if ((r = client_tx_begin(s, &own)) != 0)
		return r;
	return client_tx_end(s, own, save(s, lg));
}

static void
release(struct loaded *lg, struct client_signer *sg)
{
	unload(lg);
	client_signer_wipe(sg);
}

/* Writes the (changed) state and record back. */
static int
save(struct sotto *s, struct loaded *lg)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, MLS_GROUP_STATE_MAX);
	if ((r = mls_group_state_write(&lg->g, &b)) == 0) {
		store_blob_free(lg->rec.state, lg->rec.state_len);
		lg->rec.state = b.p;
		lg->rec.state_len = b.len;
		b.p = NULL;   /* transferred */
		b.cap = 0;
		r = store_group_put(s->st, &lg->rec);
	}
	buf_wipe_free(&b);
	return r;
}

static int
name_ok(const char *name)
{
	size_t n;

	return name != NULL && (n = strnlen(name, STORE_GROUP_NAME_MAX + 1)) >= 1 &&
	    n <= STORE_GROUP_NAME_MAX;
}

int
client_group_create(struct sotto *s, const char *name, uint8_t id[CLIENT_GROUP_ID_LEN])
{
	struct client_signer sg;
	struct mls_key_package_secrets ks;
	struct mls_key_package kp;
	struct loaded lg;
	uint64_t now = client_now();
	struct buf kpb;
	struct cur c;
	int r;

	memset(&lg, 0, sizeof(lg));
	memset(&ks, 0, sizeof(ks));
	if (!name_ok(name))
		return SOTTO_ERR_INVALID_ARG;
	buf_init_dyn(&kpb, STORE_KEY_PACKAGE_MAX);
	if ((r = client_signer_load(s, &sg)) != 0)
		return r;
	/* Our leaf comes from a KeyPackage made for it alone. */
	if ((r = mls_key_package_create(&kpb, &ks, sg.sec, sg.cred, sg.cred_len,
	    now - CLIENT_KP_BACKDATE, now + CLIENT_KP_LIFETIME)) != 0)
		goto out;
	cur_init(&c, kpb.p, kpb.len);
	mls_key_package_read(&c, &kp);
	if ((r = cur_finish(&c)) != 0)
		goto out;
	rand_bytes(lg.rec.id, CLIENT_GROUP_ID_LEN);
	lg.rec.id_len = CLIENT_GROUP_ID_LEN;
	if ((r = mls_group_create(&lg.g, lg.rec.id, CLIENT_GROUP_ID_LEN, &kp, ks.enc_sec)) != 0)
		goto out;
	lg.has_g = 1;
	memcpy(lg.rec.name, name, strlen(name) + 1);
	lg.rec.status = STORE_GROUP_MEMBER;
	lg.rec.created = now;
	if ((r = save(s, &lg)) != 0)
		goto out;
	memcpy(id, lg.rec.id, CLIENT_GROUP_ID_LEN);
out:
	unload(&lg);
	mls_key_package_secrets_wipe(&ks);
	client_signer_wipe(&sg);
	buf_free(&kpb);
	return r;
}

/* Content of ours (type, body; a fresh id, our clock, the group's timer) as an application
 * message of the current epoch into out; msg_id (may be NULL) receives its id. */
static int
send_content(struct loaded *lg, const struct client_signer *sg, uint8_t type,
    const uint8_t *body, size_t len, uint8_t msg_id[STORE_MSGID_LEN], struct buf *out)
{
	struct group_content gc;
	struct buf plain;
	int r;

	memset(&gc, 0, sizeof(gc));
	gc.type = type;
	rand_bytes(gc.id, sizeof(gc.id));
	gc.sent_ms = client_now_ms();
	gc.expiry = lg->rec.expiry_seconds;
	gc.body = body;
	gc.body_len = len;
	buf_init_dyn(&plain, MLS_APPLICATION_MAX);
	if ((r = group_content_encode(&gc, &plain)) == 0 &&
	    (r = mls_group_send_application(&lg->g, sg->sec, plain.p, plain.len, out)) == 0 &&
	    msg_id != NULL)
		memcpy(msg_id, gc.id, sizeof(gc.id));
	buf_wipe_free(&plain);
	return r;
}

static int
send_info(struct loaded *lg, const struct client_signer *sg, struct buf *out)
{
	return send_content(lg, sg, GROUP_CONTENT_INFO, (const uint8_t *)lg->rec.name,
	    strlen(lg->rec.name), NULL, out);
}

/* A KeyPackage given bare or as an MLSMessage (version 1, wire format 5), read. */
static int
read_key_package(const uint8_t *p, size_t len, struct mls_key_package *kp)
{
	struct mls_message m;
	struct cur c;
	int r;

	cur_init(&c, p, len);
	if (len >= 4 && p[0] == 0 && p[1] == 1 && p[2] == 0 && p[3] == MLS_WIRE_KEY_PACKAGE) {
		mls_message_read(&c, &m);
		*kp = m.key_package;
	} else
		mls_key_package_read(&c, kp);
	if ((r = cur_finish(&c)) != 0)
		return r;
	return mls_key_package_verify(kp, client_now());
}

/* A loaded group we are still in (SOTTO_ERR_STATE if removed) and our signer. */
static int
load_active(struct sotto *s, const uint8_t *id, size_t id_len, struct loaded *lg,
    struct client_signer *sg)
{
	int r;

	memset(sg, 0, sizeof(*sg));
	if ((r = load(s, id, id_len, lg)) != 0)
		return r;
	if (lg->rec.status >= STORE_GROUP_REMOVED)       /* or MISSED */
		r = SOTTO_ERR_STATE;
	else
		r = client_signer_load(s, sg);
	if (r != 0)
		unload(lg);
	return r;
}

/* Commits spec, writes the state (keeping the one before until the delivery service
 * accepts the Commit), and (info not NULL) the group's name for the new epoch. */
static int
commit_and_save(struct sotto *s, struct loaded *lg, const struct client_signer *sg,
    const struct mls_commit_spec *spec, struct buf *commit, struct buf *welcome,
    struct buf *info)
{
	struct buf none;
	int r;

	if (lg->rec.prev_state != NULL)
		return SOTTO_ERR_STATE;   /* one Commit of ours in flight at a time */
	buf_init_dyn(&none, MLS_MESSAGE_MAX);
	if ((r = mls_group_commit(&lg->g, sg->sec, spec, commit,
	    welcome != NULL ? welcome : &none)) != 0 ||
	    (info != NULL && (r = send_info(lg, sg, info)) != 0))
		goto out;
	if (welcome == NULL && none.len > 0) {
		r = SOTTO_ERR_INTERNAL;   /* a Welcome nobody would deliver */
		goto out;
	}
	lg->rec.prev_state = lg->rec.state;   /* transferred */
	lg->rec.prev_state_len = lg->rec.state_len;
	lg->rec.state = NULL;
	lg->rec.state_len = 0;
	r = save_tx(s, lg);
out:
	buf_free(&none);
	return r;
}

int
client_group_add(struct sotto *s, const uint8_t *id, size_t id_len, const uint8_t *const *kps,
    const size_t *kp_lens, size_t n, struct buf *commit, struct buf *welcome, struct buf *info)
{
	struct client_signer sg;
	struct client_group_member m;
	struct mls_key_package kp;
	struct loaded lg;
	const uint8_t **bare = NULL;
	size_t *bare_lens = NULL, i;
	struct mls_commit_spec spec;
	int r;

	if (n == 0 || n > MLS_GROUP_PROPOSALS_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = load_active(s, id, id_len, &lg, &sg)) != 0)
		return r;
	bare = calloc(n, sizeof(*bare));
	bare_lens = calloc(n, sizeof(*bare_lens));
	if (bare == NULL || bare_lens == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	/* Each new member: a valid KeyPackage, a credential of its account, a key that is
	 * not a verified contact's other key. */
	for (i = 0; i < n; i++) {
		if ((r = read_key_package(kps[i], kp_lens[i], &kp)) != 0 ||
		    (r = client_group_member_of_leaf(s, &kp.leaf, 0, &m)) != 0)
			goto out;
		if (m.trust == CLIENT_MEMBER_BLOCKED) {
			r = SOTTO_ERR_UNTRUSTED_IDENTITY;
			goto out;
		}
		bare[i] = kp.encoding;
		bare_lens[i] = kp.encoding_len;
	}
	memset(&spec, 0, sizeof(spec));
	spec.add_kps = bare;
	spec.add_lens = bare_lens;
	spec.n_adds = n;
	spec.encrypt = 1;
	r = commit_and_save(s, &lg, &sg, &spec, commit, welcome, info);
out:
	free(bare);
	free(bare_lens);
	release(&lg, &sg);
	return r;
}

int
client_group_remove(struct sotto *s, const uint8_t *id, size_t id_len, const char *address,
    struct buf *commit)
{
	struct client_signer sg;
	struct client_group_members ms = { 0 };
	struct mls_commit_spec spec;
	struct loaded lg;
	uint32_t *leaves = NULL;
	size_t i, k = 0;
	int r;

	if (address == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if (s->have_id && strcmp(address, s->k->id.address) == 0)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = load_active(s, id, id_len, &lg, &sg)) != 0)
		return r;
	if ((r = client_group_members_of_tree(s, &lg.g.tree, &ms)) != 0)
		goto out;
	if ((leaves = calloc(ms.n + 1, sizeof(*leaves))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < ms.n; i++)
		if (strcmp(ms.v[i].address, address) == 0)
			leaves[k++] = ms.v[i].leaf;
	if (k == 0) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.removes = leaves;
	spec.n_removes = k;
	spec.encrypt = 1;
	r = commit_and_save(s, &lg, &sg, &spec, commit, NULL, NULL);
out:
	free(leaves);
	client_group_members_free(&ms);
	release(&lg, &sg);
	return r;
}

int
client_group_commit_done(struct sotto *s, const uint8_t *id, size_t id_len, int accepted)
{
	struct store_group g;
	int r, own;

	if ((r = client_tx_begin(s, &own)) != 0)
		return r;
	if ((r = store_group_get(s->st, id, id_len, &g)) == 0) {
		if (g.prev_state == NULL) {
			r = SOTTO_ERR_NOT_FOUND;
		} else {
			/* Refused: back to the epoch before, as though we had never committed. */
			if (!accepted) {
				store_blob_free(g.state, g.state_len);
				g.state = g.prev_state;
				g.state_len = g.prev_state_len;
			} else
				store_blob_free(g.prev_state, g.prev_state_len);
			g.prev_state = NULL;
			g.prev_state_len = 0;
			r = store_group_put(s->st, &g);
		}
		store_group_wipe(&g);
	}
	return client_tx_end(s, own, r);
}

int
client_group_leave(struct sotto *s, const uint8_t *id, size_t id_len, struct buf *proposal)
{
	struct client_signer sg;
	struct loaded lg;
	int r;

	if ((r = load_active(s, id, id_len, &lg, &sg)) != 0)
		return r;
	if ((r = mls_group_propose_remove(&lg.g, sg.sec, lg.g.own_leaf, proposal)) == 0) {
		lg.rec.status = STORE_GROUP_LEAVING;
		r = save_tx(s, &lg);
	}
	release(&lg, &sg);
	return r;
}

/* A Commit that adds and removes no one: of the proposals we hold (cached; none held is
 * SOTTO_ERR_NOT_FOUND), or of none at all (a path only). */
static int
commit_held(struct sotto *s, const uint8_t *id, size_t id_len, int cached, struct buf *commit)
{
	struct client_signer sg;
	struct mls_commit_spec spec;
	struct loaded lg;
	int r;

	if ((r = load_active(s, id, id_len, &lg, &sg)) != 0)
		return r;
	memset(&spec, 0, sizeof(spec));
	spec.cached = cached;
	spec.encrypt = 1;
	r = cached && lg.g.n_cache == 0 ? SOTTO_ERR_NOT_FOUND :
	    commit_and_save(s, &lg, &sg, &spec, commit, NULL, NULL);
	release(&lg, &sg);
	return r;
}

int
client_group_commit_pending(struct sotto *s, const uint8_t *id, size_t id_len, struct buf *commit)
{
	return commit_held(s, id, id_len, 1, commit);
}

int
client_group_commit_empty(struct sotto *s, const uint8_t *id, size_t id_len, struct buf *commit)
{
	return commit_held(s, id, id_len, 0, commit);
}

int
client_group_set_info(struct sotto *s, const uint8_t *id, size_t id_len, const char *name,
    uint32_t expiry, struct buf *out)
{
	struct client_signer sg;
	struct loaded lg;
	int r;

	if ((name != NULL && !name_ok(name)) || expiry > SOTTO_EXPIRY_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = load_active(s, id, id_len, &lg, &sg)) != 0)
		return r;
	if (name != NULL)
		memcpy(lg.rec.name, name, strlen(name) + 1);
	lg.rec.expiry_seconds = expiry;
	if ((r = send_info(&lg, &sg, out)) == 0)
		r = save_tx(s, &lg);
	release(&lg, &sg);
	return r;
}

int
client_group_send_type(struct sotto *s, const uint8_t *id, size_t id_len, uint8_t type,
    const uint8_t *text, size_t len, uint8_t msg_id[STORE_MSGID_LEN], struct buf *out)
{
	struct client_signer sg;
	struct loaded lg;
	int r;

	if (text == NULL || len == 0 || type == GROUP_CONTENT_INFO)
		return SOTTO_ERR_INVALID_ARG;
	if (type != GROUP_CONTENT_FILE && len > SOTTO_TEXT_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if ((r = load_active(s, id, id_len, &lg, &sg)) != 0)
		return r;
	if ((r = send_content(&lg, &sg, type, text, len, msg_id, out)) == 0)
		r = save_tx(s, &lg);
	release(&lg, &sg);
	return r;
}

int
client_group_send(struct sotto *s, const uint8_t *id, size_t id_len, int mail,
    const uint8_t *text, size_t len, uint8_t msg_id[STORE_MSGID_LEN], struct buf *out)
{
	return client_group_send_type(s, id, id_len, mail ? GROUP_CONTENT_MAIL :
	    GROUP_CONTENT_TEXT, text, len, msg_id, out);
}

int
client_group_find(struct sotto *s, const char *name, uint8_t *id, size_t *id_len)
{
	struct store_group_list l = { 0 };
	uint8_t hex[CLIENT_GROUP_ID_LEN];
	const struct store_group *hit = NULL;
	size_t i, bin_len = 0, named = 0;
	int r, is_hex;

	*id_len = 0;
	if (name == NULL || *name == '\0')
		return SOTTO_ERR_INVALID_ARG;
	is_hex = strlen(name) == 2 * CLIENT_GROUP_ID_LEN &&
	    sodium_hex2bin(hex, sizeof(hex), name, strlen(name), NULL, &bin_len, NULL) == 0 &&
	    bin_len == sizeof(hex);
	if ((r = store_group_list(s->st, &l)) != 0)
		return r;
	/* An id names one group; a name may be shared, and then names none. */
	for (i = 0; i < l.n && is_hex && hit == NULL; i++)
		if (l.v[i].id_len == sizeof(hex) && memcmp(l.v[i].id, hex, sizeof(hex)) == 0)
			hit = &l.v[i];
	for (i = 0; i < l.n && hit == NULL; i++)
		if (strcmp(l.v[i].name, name) == 0 && named++ == 0)
			hit = &l.v[i];
	for (; i < l.n && named == 1; i++)
		if (strcmp(l.v[i].name, name) == 0)
			named++;
	r = hit == NULL ? SOTTO_ERR_NOT_FOUND : named > 1 ? SOTTO_ERR_EXISTS : 0;
	if (r == 0) {
		memcpy(id, hit->id, hit->id_len);
		*id_len = hit->id_len;
	}
	store_group_list_free(&l);
	return r;
}

int
client_group_epoch(struct sotto *s, const uint8_t *id, size_t id_len, uint64_t *epoch)
{
	struct loaded lg;
	int r;

	*epoch = 0;
	if ((r = load(s, id, id_len, &lg)) != 0)
		return r;
	*epoch = lg.g.gc.epoch;
	unload(&lg);
	return 0;
}

int
client_group_token(struct sotto *s, const uint8_t *id, size_t id_len, uint64_t *epoch,
    uint8_t token[PROTO_GROUP_TOKEN_LEN])
{
	static const char label[] = PROTO_GROUP_TOKEN_EXPORTER;
	struct loaded lg;
	int r;

	*epoch = 0;
	if ((r = load(s, id, id_len, &lg)) != 0)
		return r;
	*epoch = lg.g.gc.epoch;
	r = mls_exporter(token, PROTO_GROUP_TOKEN_LEN, lg.g.epoch.exporter_secret,
	    (const uint8_t *)label, sizeof(label) - 1, lg.g.gc.group_id, lg.g.gc.group_id_len);
	if (r != 0)
		sodium_memzero(token, PROTO_GROUP_TOKEN_LEN);
	unload(&lg);
	return r;
}

int
client_group_verifier(struct sotto *s, const uint8_t *id, size_t id_len,
    uint8_t verifier[PROTO_GROUP_TOKEN_LEN])
{
	uint8_t token[PROTO_GROUP_TOKEN_LEN];
	uint64_t epoch;
	int r;

	if ((r = client_group_token(s, id, id_len, &epoch, token)) == 0)
		proto_group_verifier(verifier, token);
	sodium_memzero(token, sizeof(token));
	return r;
}

int
client_group_members(struct sotto *s, const uint8_t *id, size_t id_len,
    struct client_group_members *out)
{
	struct loaded lg;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = load(s, id, id_len, &lg)) != 0)
		return r;
	r = client_group_members_of_tree(s, &lg.g.tree, out);
	unload(&lg);
	return r;
}

void
client_group_event_free(struct client_group_event *ev)
{
	if (ev->body != NULL)
		store_blob_free(ev->body, ev->body_len);
	client_group_members_free(&ev->added);
	client_group_members_free(&ev->removed);
	memset(ev, 0, sizeof(*ev));
}

/* ---- receiving ---- */

/* The stored KeyPackage one of the Welcome's EncryptedGroupSecrets is for. */
static int
welcome_key_package(struct sotto *s, const struct mls_welcome *w, struct store_key_package *k)
{
	const uint8_t *ref;
	size_t ref_len, n;
	struct cur c;
	int r;

	cur_init(&c, w->secrets, w->secrets_len);
	while (cur_left(&c) > 0) {
		/* { opaque new_member<V>; HPKECiphertext { kem_output<V>; ciphertext<V>; } } */
		ref = mls_cur_opaque(&c, MLS_MESSAGE_MAX, &ref_len);
		(void)mls_cur_opaque(&c, MLS_MESSAGE_MAX, &n);
		(void)mls_cur_opaque(&c, MLS_MESSAGE_MAX, &n);
		if ((r = cur_status(&c)) != 0)
			return r;
		if (ref_len != STORE_KP_REF_LEN)
			continue;
		if ((r = store_key_package_get(s->st, ref, k)) != SOTTO_ERR_NOT_FOUND)
			return r;
	}
	return SOTTO_ERR_NOT_FOUND;
}

/* 0 if we may store the group joined in lg: we have no group of that id, or one that
 * removed us in an earlier epoch; else SOTTO_ERR_REPLAY. */
static int
rejoin_allowed(struct sotto *s, const struct loaded *lg)
{
	struct loaded old;
	int r;

	if ((r = load(s, lg->rec.id, lg->rec.id_len, &old)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	r = old.rec.status >= STORE_GROUP_REMOVED && old.g.gc.epoch < lg->g.gc.epoch ? 0 :
	    SOTTO_ERR_REPLAY;
	unload(&old);
	return r;
}

static int set_sender(struct sotto *s, const struct loaded *lg, uint32_t leaf,
    struct client_group_event *ev);

static int
receive_welcome(struct sotto *s, const struct mls_welcome *w, struct client_group_event *ev)
{
	struct store_key_package k;
	struct mls_key_package kp;
	struct mls_join_input in;
	struct mls_joined j;
	struct loaded lg;
	struct cur c;
	int r, own = 0, joined = 0;

	memset(&lg, 0, sizeof(lg));
	memset(&j, 0, sizeof(j));
	if ((r = welcome_key_package(s, w, &k)) != 0)
		return r;
	cur_init(&c, k.kp, k.kp_len);
	mls_key_package_read(&c, &kp);
	if ((r = cur_finish(&c)) != 0) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.key_package = &kp;
	in.init_sec = k.init_sec;
	if ((r = mls_join(&j, w, &in)) != 0)
		goto out;
	joined = 1;
	if ((r = mls_group_from_join(&lg.g, &j, k.enc_sec, NULL, 0)) != 0)
		goto out;
	lg.has_g = 1;
	/* Every member's credential verifies, or we do not join. */
	if ((r = client_group_members_of_tree(s, &lg.g.tree, &ev->added)) != 0)
		goto out;
	if (lg.g.gc.group_id_len > STORE_GROUP_ID_MAX) {
		r = SOTTO_ERR_PROTOCOL;
		goto out;
	}
	memcpy(lg.rec.id, lg.g.gc.group_id, lg.g.gc.group_id_len);
	lg.rec.id_len = lg.g.gc.group_id_len;
	lg.rec.status = STORE_GROUP_MEMBER;
	lg.rec.created = client_now();
	if ((r = client_tx_begin(s, &own)) != 0)
		goto out;
	/* A group we are in already: a redelivered Welcome. One that removed us: this Welcome
	 * adds us again if it is of a later epoch than the one we were removed in. */
	if ((r = rejoin_allowed(s, &lg)) == 0 && (r = save(s, &lg)) == 0 && !k.last_resort)
		r = store_key_package_delete(s->st, k.ref);
	if ((r = client_tx_end(s, own, r)) != 0)
		goto out;
	ev->type = CLIENT_GROUP_JOINED;
	memcpy(ev->group_id, lg.rec.id, lg.rec.id_len);
	ev->group_id_len = lg.rec.id_len;
	ev->warnings = client_group_members_warnings(&ev->added);
	/* who added us: the GroupInfo's signer, the committer (its credential verified
	 * above with everyone's) */
	if (set_sender(s, &lg, j.group_info.signer, ev) != 0)
		ev->sender[0] = '\0';
out:
	if (joined)
		mls_joined_free(&j);
	unload(&lg);
	store_key_package_wipe(&k);
	return r;
}

/* The member at a leaf into ev->sender. */
static int
set_sender(struct sotto *s, const struct loaded *lg, uint32_t leaf, struct client_group_event *ev)
{
	struct client_group_member m;
	int r;

	if (leaf >= lg->g.tree.n_leaves || lg->g.tree.nodes[2 * leaf].type != MLS_NODE_LEAF)
		return SOTTO_ERR_AUTH;
	if ((r = client_group_member_of_leaf(s, &lg->g.tree.nodes[2 * leaf].leaf, leaf, &m)) != 0)
		return r;
	memcpy(ev->sender, m.address, sizeof(ev->sender));
	ev->warnings |= m.trust == CLIENT_MEMBER_CHANGED || m.trust == CLIENT_MEMBER_BLOCKED ?
	    CLIENT_GROUP_WARN_KEY_CHANGED : m.trust == CLIENT_MEMBER_UNKNOWN ?
	    CLIENT_GROUP_WARN_UNKNOWN : 0;
	return 0;
}

/* A malloc'd copy of a secret (with a spare NUL), freed with store_blob_free. */
static uint8_t *
dup_secret(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len + 1);

	if (d != NULL) {
		memcpy(d, p, len);
		d[len] = '\0';
	}
	return d;
}

static int
receive_application(struct sotto *s, struct loaded *lg, const uint8_t *msg, size_t len,
    struct client_group_event *ev)
{
	struct group_content gc;
	const uint8_t *data;
	size_t data_len;
	uint32_t sender;
	struct buf plain;
	int r;

	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	if ((r = mls_group_read_application(&lg->g, msg, len, &plain, &data, &data_len,
	    &sender)) != 0 ||
	    (r = group_content_decode(data, data_len, &gc)) != 0 ||
	    (r = set_sender(s, lg, sender, ev)) != 0)
		goto out;
	memcpy(ev->msg_id, gc.id, sizeof(gc.id));
	ev->sent_ms = gc.sent_ms;
	if (gc.type == GROUP_CONTENT_TEXT || gc.type == GROUP_CONTENT_MAIL ||
	    gc.type == GROUP_CONTENT_FILE) {
		ev->type = gc.type == GROUP_CONTENT_FILE ? CLIENT_GROUP_FILE : CLIENT_GROUP_MESSAGE;
		ev->mail = gc.type == GROUP_CONTENT_MAIL;
		if ((ev->body = dup_secret(gc.body, gc.body_len)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
		ev->body_len = gc.body_len;
	} else {
		ev->type = CLIENT_GROUP_INFO;
		memcpy(ev->old_name, lg->rec.name, sizeof(ev->old_name));
		ev->old_expiry = lg->rec.expiry_seconds;
		if (gc.body_len > 0) {   /* empty: the sender does not know the name */
			memcpy(lg->rec.name, gc.body, gc.body_len);
			lg->rec.name[gc.body_len] = '\0';
		}
		lg->rec.expiry_seconds = gc.expiry;
	}
out:
	buf_wipe_free(&plain);
	return r;
}

static int
receive_proposal(struct sotto *s, struct loaded *lg, const uint8_t *msg, size_t len,
    struct client_group_event *ev)
{
	const struct mls_group_cached *e;
	int r;

	if ((r = mls_group_cache_proposal(&lg->g, msg, len)) != 0)
		return r;
	e = &lg->g.cache[lg->g.n_cache - 1];
	ev->type = CLIENT_GROUP_PROPOSAL;
	ev->leave_request = e->p.type == MLS_PROPOSAL_REMOVE && e->p.removed == e->sender;
	return set_sender(s, lg, e->sender, ev);
}

static int
receive_commit(struct sotto *s, struct loaded *lg, const uint8_t *msg, size_t len,
    uint64_t epoch, struct client_group_event *ev)
{
	struct client_group_members before = { 0 }, after = { 0 };
	uint32_t by, leaving[MLS_GROUP_PROPOSALS_MAX];
	size_t i, k, n_leaving = 0;
	int r;

	if ((r = client_group_members_of_tree(s, &lg->g.tree, &before)) != 0)
		return r;
	/* The members who asked to leave (a Remove of their own leaf, cached). */
	for (i = 0; i < lg->g.n_cache && n_leaving < MLS_GROUP_PROPOSALS_MAX; i++)
		if (lg->g.cache[i].p.type == MLS_PROPOSAL_REMOVE &&
		    lg->g.cache[i].p.removed == lg->g.cache[i].sender)
			leaving[n_leaving++] = lg->g.cache[i].sender;
	r = mls_group_process_commit_by(&lg->g, msg, len, &by);
	/* Refused as a state error in our own epoch: only a Commit that removes us is. */
	if (r == SOTTO_ERR_STATE && epoch == lg->g.gc.epoch && by != UINT32_MAX) {
		ev->type = CLIENT_GROUP_REMOVED;
		lg->rec.status = STORE_GROUP_REMOVED;
		if (set_sender(s, lg, by, ev) != 0)
			ev->sender[0] = '\0';
		r = 0;
		goto out;
	}
	/* The new and changed members' credentials must verify: if not, refuse the Commit
	 * (the stored state stays in the epoch before). */
	if (r != 0 || (r = client_group_members_of_tree(s, &lg->g.tree, &after)) != 0 ||
	    (r = client_group_members_diff(&before, &after, &ev->added, &ev->removed)) != 0 ||
	    (r = set_sender(s, lg, by, ev)) != 0)
		goto out;
	for (i = 0; i < ev->removed.n; i++)
		for (k = 0; k < n_leaving; k++)
			if (ev->removed.v[i].leaf == leaving[k])
				ev->removed.v[i].left = 1;
	ev->type = CLIENT_GROUP_COMMIT;
	ev->warnings = client_group_members_warnings(&ev->added);
out:
	client_group_members_free(&before);
	client_group_members_free(&after);
	return r;
}

int
client_group_receive(struct sotto *s, const uint8_t *msg, size_t len, struct client_group_event *ev)
{
	struct mls_message m;
	struct loaded lg;
	const uint8_t *gid;
	size_t gid_len;
	uint64_t epoch;
	uint8_t type;
	struct cur c;
	int r;

	memset(ev, 0, sizeof(*ev));
	if (msg == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if (len > CLIENT_GROUP_MESSAGE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	cur_init(&c, msg, len);
	mls_message_read(&c, &m);
	if ((r = cur_finish(&c)) != 0)
		return r;
	switch (m.wire_format) {
	case MLS_WIRE_WELCOME:
		if ((r = receive_welcome(s, &m.welcome, ev)) != 0)
			client_group_event_free(ev);
		return r;
	case MLS_WIRE_PUBLIC_MESSAGE:
		gid = m.pub.content.group_id;
		gid_len = m.pub.content.group_id_len;
		epoch = m.pub.content.epoch;
		type = m.pub.content.content_type;
		break;
	case MLS_WIRE_PRIVATE_MESSAGE:
		gid = m.group_id;
		gid_len = m.group_id_len;
		epoch = m.epoch;
		type = m.content_type;
		break;
	default:
		return SOTTO_ERR_UNSUPPORTED;
	}
	if (gid_len == 0 || gid_len > STORE_GROUP_ID_MAX)
		return SOTTO_ERR_NOT_FOUND;
	if ((r = load(s, gid, gid_len, &lg)) != 0)
		return r;
	if (lg.rec.status >= STORE_GROUP_REMOVED) {      /* or MISSED: nothing to read */
		r = SOTTO_ERR_STATE;
		goto out;
	}
	if (epoch != lg.g.gc.epoch) {   /* a redelivery of an epoch we left, or one not ours */
		r = SOTTO_ERR_STATE;
		goto out;
	}
	memcpy(ev->group_id, gid, gid_len);
	ev->group_id_len = gid_len;
	r = type == MLS_CONTENT_APPLICATION ? receive_application(s, &lg, msg, len, ev) :
	    type == MLS_CONTENT_PROPOSAL ? receive_proposal(s, &lg, msg, len, ev) :
	    receive_commit(s, &lg, msg, len, epoch, ev);
	/* A message of the epoch our pending Commit made: the group took that Commit. */
	if (r == 0 && lg.rec.prev_state != NULL) {
		store_blob_free(lg.rec.prev_state, lg.rec.prev_state_len);
		lg.rec.prev_state = NULL;
		lg.rec.prev_state_len = 0;
	}
	if (r == 0)
		r = save_tx(s, &lg);
	if (r == 0) {
		memcpy(ev->name, lg.rec.name, sizeof(ev->name));
		ev->expiry = lg.rec.expiry_seconds;
	}
out:
	if (r != 0)
		client_group_event_free(ev);
	unload(&lg);
	return r;
}
