#include "mls_member.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/sign.h"
#include "mls/group_application.h"
#include "mls/group_state.h"
#include "mls/join.h"
#include "mls/limits.h"
#include "mls/message.h"

int
mls_member_init(struct mls_member *m, const char *identity)
{
	uint64_t now = (uint64_t)time(NULL);
	struct cur c;

	memset(m, 0, sizeof(*m));
	buf_init_dyn(&m->kp_bytes, MLS_MESSAGE_MAX);
	if (sign_keypair(m->sig_pub, m->sig_sec) != 0 ||
	    mls_key_package_create(&m->kp_bytes, &m->ks, m->sig_sec, (const uint8_t *)identity,
	    strlen(identity), now - 3600, now + 86400) != 0)
		return 0;
	cur_init(&c, m->kp_bytes.p, m->kp_bytes.len);
	mls_key_package_read(&c, &m->kp);
	return cur_finish(&c) == 0;
}

void
mls_member_free(struct mls_member *m)
{
	if (m->in)
		mls_group_free(&m->g);
	m->in = 0;
	buf_free(&m->kp_bytes);
	mls_key_package_secrets_wipe(&m->ks);
	sodium_memzero(m->sig_sec, sizeof(m->sig_sec));
}

int
mls_member_join(struct mls_member *m, const uint8_t *w, size_t w_len, const uint8_t *tree,
    size_t tree_len)
{
	struct mls_message msg;
	struct mls_join_input in;
	struct mls_joined j;
	struct cur c;
	int r;

	cur_init(&c, w, w_len);
	mls_message_read(&c, &msg);
	if ((r = cur_finish(&c)) != 0)
		return r;
	if (msg.wire_format != MLS_WIRE_WELCOME)
		return SOTTO_ERR_PROTOCOL;
	memset(&in, 0, sizeof(in));
	in.key_package = &m->kp;
	in.init_sec = m->ks.init_sec;
	in.ratchet_tree = tree;
	in.ratchet_tree_len = tree_len;
	in.psks = m->psks;
	in.n_psks = m->n_psks;
	if ((r = mls_join(&j, &msg.welcome, &in)) != 0)
		return r;
	r = mls_group_from_join(&m->g, &j, m->ks.enc_sec, m->psks, m->n_psks);
	mls_joined_free(&j);
	m->in = r == 0;
	return r;
}

int
mls_member_send(struct mls_member *s, const uint8_t *data, size_t len, const uint8_t *aad,
    size_t aad_len, struct buf *out)
{
	struct mls_authenticated_content ac;
	struct mls_epoch_keys ek;
	uint8_t sig[MLS_SIG_LEN];
	int r;

	memset(&ac, 0, sizeof(ac));
	ac.wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	ac.content.group_id = s->g.gc.group_id;
	ac.content.group_id_len = s->g.gc.group_id_len;
	ac.content.epoch = s->g.gc.epoch;
	ac.content.sender_type = MLS_SENDER_MEMBER;
	ac.content.sender_index = s->g.own_leaf;
	ac.content.authenticated_data = aad_len > 0 ? aad : sig;   /* sig: zero bytes of it */
	ac.content.authenticated_data_len = aad_len;
	ac.content.content_type = MLS_CONTENT_APPLICATION;
	ac.content.body = data;
	ac.content.body_len = len;
	mls_group_epoch_keys(&s->g, &ek);
	if ((r = mls_content_sign(sig, s->sig_sec, MLS_WIRE_PRIVATE_MESSAGE, &ac.content, &ek)) != 0)
		return r;
	ac.auth.signature = sig;
	ac.auth.signature_len = sizeof(sig);
	buf_reset(out);
	return mls_private_message_write(out, &ac, &ek);
}

/* The decryption and sender checks of an application message m. */
static int
read_private(struct mls_member *r, const struct mls_message *m, struct buf *out, uint64_t as_epoch)
{
	struct mls_authenticated_content ac;
	struct mls_epoch_keys ek;
	struct buf plain;
	const struct mls_node *sender;
	int rc;

	mls_group_epoch_keys(&r->g, &ek);
	if (as_epoch != 0)
		ek.gc.epoch = as_epoch;
	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	if ((rc = mls_private_message_read(m, &ek, &plain, &ac)) != 0)
		goto out;
	rc = SOTTO_ERR_PROTOCOL;
	if (ac.content.content_type != MLS_CONTENT_APPLICATION ||
	    ac.content.sender_type != MLS_SENDER_MEMBER ||
	    ac.content.sender_index >= r->g.tree.n_leaves)
		goto out;
	sender = &r->g.tree.nodes[2 * (size_t)ac.content.sender_index];
	if (sender->type != MLS_NODE_LEAF)
		goto out;
	if ((rc = mls_content_verify(&ac, sender->leaf.signature_key, &ek)) != 0)
		goto out;
	buf_reset(out);
	buf_put(out, ac.content.body, ac.content.body_len);
	rc = buf_status(out);
out:
	buf_wipe_free(&plain);
	return rc;
}

/* An application message read as a client reads it (mls_group_read_application, which
 * also reads the epochs the group keeps, src/mls/group_past.c): the data into out, the
 * sender's leaf into *sender. */
static int
read_as_client(struct mls_group *g, const uint8_t *msg, size_t len, struct buf *out,
    uint32_t *sender)
{
	const uint8_t *data;
	size_t data_len;
	struct buf plain;
	int rc;

	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	if ((rc = mls_group_read_application(g, msg, len, &plain, &data, &data_len, sender)) == 0) {
		buf_reset(out);
		buf_put(out, data, data_len);
		rc = buf_status(out);
	}
	buf_wipe_free(&plain);
	return rc;
}

int
mls_member_read(struct mls_member *r, const uint8_t *msg, size_t len, struct buf *out,
    uint64_t as_epoch)
{
	struct mls_message m;
	struct cur c;
	uint32_t sender;
	int rc;

	cur_init(&c, msg, len);
	mls_message_read(&c, &m);
	if ((rc = cur_finish(&c)) != 0)
		return rc;
	if (m.wire_format != MLS_WIRE_PRIVATE_MESSAGE)
		return SOTTO_ERR_PROTOCOL;
	if (as_epoch == 0 && m.epoch < r->g.gc.epoch)
		return read_as_client(&r->g, msg, len, out, &sender);
	return read_private(r, &m, out, as_epoch);
}

int
mls_member_receive(struct mls_member *r, const uint8_t *msg, size_t len, struct buf *out,
    int *is_app)
{
	struct mls_message m;
	struct cur c;
	uint32_t sender;
	uint8_t type;
	int rc;

	*is_app = 0;
	cur_init(&c, msg, len);
	mls_message_read(&c, &m);
	if ((rc = cur_finish(&c)) != 0)
		return rc;
	if (m.wire_format == MLS_WIRE_PUBLIC_MESSAGE)
		type = m.pub.content.content_type;
	else if (m.wire_format == MLS_WIRE_PRIVATE_MESSAGE)
		type = m.content_type;
	else
		return SOTTO_ERR_PROTOCOL;
	if (type == MLS_CONTENT_COMMIT)
		return mls_group_process_commit(&r->g, msg, len);
	if (type == MLS_CONTENT_PROPOSAL)
		return mls_group_cache_proposal(&r->g, msg, len);
	if (m.wire_format != MLS_WIRE_PRIVATE_MESSAGE)
		return SOTTO_ERR_PROTOCOL;
	*is_app = 1;
	if (m.epoch < r->g.gc.epoch)
		return read_as_client(&r->g, msg, len, out, &sender);
	return read_private(r, &m, out, 0);
}

int
mls_member_reads_text(struct mls_group *g, const struct buf *msg, const char *text, uint32_t sender)
{
	struct buf got;
	uint32_t from;
	int r;

	buf_init_dyn(&got, MLS_MESSAGE_MAX);
	r = read_as_client(g, msg->p, msg->len, &got, &from);
	if (r == 0 && (got.len != strlen(text) || memcmp(got.p, text, got.len) != 0 || from != sender))
		r = SOTTO_ERR_INTERNAL;
	buf_wipe_free(&got);
	return r;
}

int
mls_member_state_round_trip(const struct mls_group *g, struct mls_group *copy)
{
	struct buf s1, s2;
	int r;

	buf_init_dyn(&s1, MLS_GROUP_STATE_MAX);
	buf_init_dyn(&s2, MLS_GROUP_STATE_MAX);
	if ((r = mls_group_state_write(g, &s1)) == 0 &&
	    (r = mls_group_state_read(copy, s1.p, s1.len)) == 0 &&
	    (r = mls_group_state_write(copy, &s2)) == 0 &&
	    (s1.len != s2.len || memcmp(s1.p, s2.p, s1.len) != 0))
		r = SOTTO_ERR_INTERNAL;
	buf_wipe_free(&s1);
	buf_wipe_free(&s2);
	return r;
}

int
mls_member_create(struct mls_member *m, const char *group_id)
{
	int r = mls_group_create(&m->g, (const uint8_t *)group_id, strlen(group_id), &m->kp,
	    m->ks.enc_sec);

	m->in = r == 0;
	return r;
}

static int
removed(const struct mls_member *m, const uint32_t *removes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (removes[i] == m->g.own_leaf)
			return 1;
	return 0;
}

int
mls_member_commit_all(struct mls_member *ms, size_t n, size_t committer, struct mls_member *add,
    const uint32_t *removes, size_t n_removes, int cached)
{
	const uint8_t *kps[1] = { NULL };
	size_t lens[1] = { 0 }, i;
	struct mls_commit_spec spec = { kps, lens, add != NULL, removes, n_removes, cached, 1 };
	struct buf commit, welcome;
	int r;

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	if (add != NULL) {
		kps[0] = add->kp_bytes.p;
		lens[0] = add->kp_bytes.len;
	}
	if ((r = mls_group_commit(&ms[committer].g, ms[committer].sig_sec, &spec, &commit,
	    &welcome)) != 0)
		goto out;
	for (i = 0; i < n && r == 0; i++)
		if (ms[i].in && i != committer && &ms[i] != add && !removed(&ms[i], removes, n_removes))
			r = mls_group_process_commit(&ms[i].g, commit.p, commit.len);
	if (r == 0 && add != NULL)
		r = mls_member_join(add, welcome.p, welcome.len, NULL, 0);
out:
	buf_free(&commit);
	buf_free(&welcome);
	return r;
}
