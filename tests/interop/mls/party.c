#include "party.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mls/key_schedule.h"
#include "mls/limits.h"
#include "sotto/error.h"

#define EXPORT_LABEL "sotto interop"
#define EXPORT_CONTEXT "ctx"

static struct ts_oracle *oracle;

void
party_use_oracle(struct ts_oracle *o)
{
	oracle = o;
}

struct ts_oracle *
party_oracle(void)
{
	return oracle;
}

const char *
party_result(int r)
{
	if (r == 0)
		return "ok";
	if (r == PARTY_TS_REFUSED)
		return oracle->error;
	return sotto_strerror(r);
}

/* bytes as lowercase hex (malloc'd; NULL if out of memory). */
static char *
hex_of(const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);

	if (h != NULL)
		sodium_bin2hex(h, 2 * n + 1, p, n);
	return h;
}

/* The hex string ans[key] decoded into out (emptied first; a JSON null leaves it empty). */
static int
unhex_field(const json_t *ans, const char *key, struct buf *out)
{
	const json_t *v = json_object_get(ans, key);
	const char *h = json_string_value(v);
	size_t n, bin_len;
	uint8_t *dst;

	buf_reset(out);
	if (json_is_null(v) || (h != NULL && *h == '\0'))
		return 0;
	if (h == NULL || (n = strlen(h)) % 2 != 0) {
		snprintf(oracle->error, sizeof(oracle->error), "answer field %s missing or not hex", key);
		return PARTY_TS_REFUSED;
	}
	if ((dst = buf_reserve(out, n / 2)) == NULL ||
	    sodium_hex2bin(dst, n / 2, h, n, NULL, &bin_len, NULL) != 0 || bin_len != n / 2) {
		snprintf(oracle->error, sizeof(oracle->error), "answer field %s not hex", key);
		return PARTY_TS_REFUSED;
	}
	return 0;
}

/* The field key of an oracle answer (or its refusal, ans NULL) into out. */
static int
ts_answer_field(json_t *ans, const char *key, struct buf *out)
{
	int r;

	if (ans == NULL)
		return PARTY_TS_REFUSED;
	r = unhex_field(ans, key, out);
	json_decref(ans);
	return r;
}

/* An oracle call about p whose answer only matters as ok or not. */
static int
ts_done(json_t *ans)
{
	if (ans == NULL)
		return PARTY_TS_REFUSED;
	json_decref(ans);
	return 0;
}

int
party_init(struct party *p, const char *name, int ts, int grease)
{
	json_t *ans;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ts = ts;
	buf_init_dyn(&p->ts_kp, MLS_MESSAGE_MAX);
	if (!ts)
		return mls_member_init(&p->m, name) ? 0 : SOTTO_ERR_INTERNAL;
	ans = ts_oracle_call(oracle, "{s:s, s:s, s:s, s:b}", "op", "key_package", "member", name,
	    "identity", name, "grease", grease);
	return ts_answer_field(ans, "key_package", &p->ts_kp);
}

void
party_free(struct party *p)
{
	if (p->ts)
		(void)ts_done(ts_oracle_call(oracle, "{s:s, s:s}", "op", "forget", "member", p->name));
	else
		mls_member_free(&p->m);
	buf_free(&p->ts_kp);
	p->in = 0;
}

const struct buf *
party_key_package(const struct party *p)
{
	return p->ts ? &p->ts_kp : &p->m.kp_bytes;
}

int
party_create_group(struct party *p, const char *group_id)
{
	char *gid;
	int r;

	if (!p->ts) {
		r = mls_group_create(&p->m.g, (const uint8_t *)group_id, strlen(group_id), &p->m.kp,
		    p->m.ks.enc_sec);
		p->in = p->m.in = r == 0;
		return r;
	}
	if ((gid = hex_of((const uint8_t *)group_id, strlen(group_id))) == NULL)
		return SOTTO_ERR_NOMEM;
	r = ts_done(ts_oracle_call(oracle, "{s:s, s:s, s:s}", "op", "create_group", "member", p->name,
	    "group_id", gid));
	free(gid);
	p->in = r == 0;
	return r;
}

/* The leaf of a member, as it sees itself. */
static int
party_leaf(struct party *p, uint32_t *leaf)
{
	struct party_state st;
	int r;

	if (!p->ts) {
		*leaf = p->m.g.own_leaf;
		return 0;
	}
	if ((r = party_state(p, &st)) == 0)
		*leaf = st.leaf;
	return r;
}

static int
sotto_commit(struct party *p, const struct change *c, struct buf *commit, struct buf *welcome)
{
	const uint8_t *kps[MLS_GROUP_PROPOSALS_MAX];
	size_t lens[MLS_GROUP_PROPOSALS_MAX], i;
	uint32_t removes[MLS_GROUP_PROPOSALS_MAX];
	struct mls_commit_spec spec;
	int r;

	if (c->n_adds > MLS_GROUP_PROPOSALS_MAX || c->n_removes > MLS_GROUP_PROPOSALS_MAX)
		return SOTTO_ERR_LIMIT;
	for (i = 0; i < c->n_adds; i++) {
		kps[i] = party_key_package(c->adds[i])->p;
		lens[i] = party_key_package(c->adds[i])->len;
	}
	for (i = 0; i < c->n_removes; i++)
		if ((r = party_leaf(c->removes[i], &removes[i])) != 0)
			return r;
	spec.add_kps = kps;
	spec.add_lens = lens;
	spec.n_adds = c->n_adds;
	spec.removes = removes;
	spec.n_removes = c->n_removes;
	spec.cached = c->cached;
	spec.encrypt = !c->public;
	return mls_group_commit(&p->m.g, p->m.sig_sec, &spec, commit, welcome);
}

static int
ts_commit(struct party *p, const struct change *c, struct buf *commit, struct buf *welcome,
    struct buf *tree)
{
	json_t *adds = json_array(), *removes = json_array(), *psks = json_array(), *ans;
	json_t *ext = NULL;
	char *aad = NULL;
	uint32_t leaf;
	size_t i;
	int r = SOTTO_ERR_NOMEM;

	if (adds == NULL || removes == NULL || psks == NULL)
		goto out;
	for (i = 0; i < c->n_psk_ids; i++) {
		char *h = hex_of((const uint8_t *)c->psk_ids[i], strlen(c->psk_ids[i]));

		if (h == NULL || json_array_append_new(psks, json_pack("{s:s}", "id", h)) != 0) {
			free(h);
			goto out;
		}
		free(h);
	}
	for (i = 0; i < c->n_psk_epochs; i++)
		if (json_array_append_new(psks, json_pack("{s:I}", "epoch",
		    (json_int_t)c->psk_epochs[i])) != 0)
			goto out;
	for (i = 0; i < c->n_adds; i++) {
		const struct buf *kp = party_key_package(c->adds[i]);
		char *h = hex_of(kp->p, kp->len);

		if (h == NULL || json_array_append_new(adds, json_string(h)) != 0) {
			free(h);
			goto out;
		}
		free(h);
	}
	for (i = 0; i < c->n_removes; i++) {
		if ((r = party_leaf(c->removes[i], &leaf)) != 0)
			goto out;
		if (json_array_append_new(removes, json_integer(leaf)) != 0) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
	}
	if (c->aad != NULL && (aad = hex_of((const uint8_t *)c->aad, strlen(c->aad))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if (c->gce && c->extension_type == 0)
		ext = json_array();
	else if (c->gce) {
		char *h = hex_of(c->extension, c->extension_len);

		ext = h ? json_pack("[{s:i, s:s}]", "type", (int)c->extension_type, "data", h) : NULL;
		free(h);
	}
	if (c->gce && ext == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	ans = ts_oracle_call(oracle, "{s:s, s:s, s:O, s:O, s:O, s:O*, s:b, s:b, s:s*}", "op",
	    "commit", "member", p->name, "adds", adds, "removes", removes, "psks", psks,
	    "extensions", ext, "public", c->public, "ratchet_tree_ext", !c->tree_out_of_band,
	    "aad", aad);
	if (ans == NULL) {
		r = PARTY_TS_REFUSED;
		goto out;
	}
	if ((r = unhex_field(ans, "commit", commit)) == 0 &&
	    (r = unhex_field(ans, "welcome", welcome)) == 0)
		r = unhex_field(ans, "ratchet_tree", tree);
	json_decref(ans);
out:
	free(aad);
	json_decref(adds);
	json_decref(removes);
	json_decref(psks);
	json_decref(ext);
	return r;
}

int
party_commit(struct party *p, const struct change *c, struct buf *commit, struct buf *welcome,
    struct buf *tree)
{
	buf_reset(commit);
	buf_reset(welcome);
	buf_reset(tree);
	return p->ts ? ts_commit(p, c, commit, welcome, tree) : sotto_commit(p, c, commit, welcome);
}

/* The oracle's process op on msg; its answer (the caller's) or NULL. */
static json_t *
ts_process(struct party *p, const struct buf *msg)
{
	char *h = hex_of(msg->p, msg->len);
	json_t *ans;

	if (h == NULL)
		return NULL;
	ans = ts_oracle_call(oracle, "{s:s, s:s, s:s}", "op", "process", "member", p->name,
	    "message", h);
	free(h);
	return ans;
}

int
party_process(struct party *p, const struct buf *msg, int *removed)
{
	struct buf data;
	json_t *ans;
	int r, is_app;

	*removed = 0;
	if (!p->ts) {
		buf_init_dyn(&data, MLS_MESSAGE_MAX);
		r = mls_member_receive(&p->m, msg->p, msg->len, &data, &is_app);
		buf_free(&data);
		if (r == SOTTO_ERR_STATE)
			*removed = 1;
		return r;
	}
	if ((ans = ts_process(p, msg)) == NULL)
		return PARTY_TS_REFUSED;
	*removed = json_is_true(json_object_get(ans, "removed"));
	json_decref(ans);
	return 0;
}

int
party_join(struct party *p, const struct buf *welcome, const struct buf *tree)
{
	char *w, *t = NULL;
	int r;

	if (!p->ts) {
		r = mls_member_join(&p->m, welcome->p, welcome->len, tree && tree->len ? tree->p : NULL,
		    tree ? tree->len : 0);
		p->in = r == 0;
		return r;
	}
	if ((w = hex_of(welcome->p, welcome->len)) == NULL ||
	    (tree != NULL && tree->len > 0 && (t = hex_of(tree->p, tree->len)) == NULL)) {
		free(w);
		return SOTTO_ERR_NOMEM;
	}
	r = ts_done(ts_oracle_call(oracle, "{s:s, s:s, s:s, s:s*}", "op", "join", "member", p->name,
	    "welcome", w, "ratchet_tree", t));
	free(w);
	free(t);
	p->in = r == 0;
	return r;
}

int
party_send_aad(struct party *p, const uint8_t *data, size_t len, const char *aad,
    struct buf *out)
{
	size_t aad_len = aad ? strlen(aad) : 0;
	char *h, *a = NULL;
	json_t *ans;

	if (!p->ts)
		return mls_member_send(&p->m, data, len, (const uint8_t *)aad, aad_len, out);
	if ((h = hex_of(data, len)) == NULL ||
	    (aad != NULL && (a = hex_of((const uint8_t *)aad, aad_len)) == NULL)) {
		free(h);
		return SOTTO_ERR_NOMEM;
	}
	ans = ts_oracle_call(oracle, "{s:s, s:s, s:s, s:s*}", "op", "send", "member", p->name,
	    "data", h, "aad", a);
	free(h);
	free(a);
	return ts_answer_field(ans, "message", out);
}

int
party_send(struct party *p, const uint8_t *data, size_t len, struct buf *out)
{
	return party_send_aad(p, data, len, NULL, out);
}

int
party_read(struct party *p, const struct buf *msg, struct buf *out)
{
	const char *kind;
	json_t *ans;
	int r;

	if (!p->ts)
		return mls_member_read(&p->m, msg->p, msg->len, out, 0);
	if ((ans = ts_process(p, msg)) == NULL)
		return PARTY_TS_REFUSED;
	kind = json_string_value(json_object_get(ans, "kind"));
	if (kind == NULL || strcmp(kind, "application") != 0) {
		snprintf(oracle->error, sizeof(oracle->error), "ts-mls took it for a handshake message");
		r = PARTY_TS_REFUSED;
	} else
		r = unhex_field(ans, "data", out);
	json_decref(ans);
	return r;
}

int
party_propose_update(struct party *p, struct buf *out)
{
	if (p->ts)
		return ts_answer_field(ts_oracle_call(oracle, "{s:s, s:s, s:s, s:b}", "op", "propose",
		    "member", p->name, "kind", "update", "public", 1), "message", out);
	return mls_group_propose_update(&p->m.g, p->m.sig_sec, out);
}

int
party_propose(struct party *p, int add, struct party *target, int public, struct buf *out)
{
	const struct buf *kp = party_key_package(target);
	uint32_t leaf = 0;
	json_t *ans;
	char *h = NULL;
	int r;

	if (!p->ts)
		return SOTTO_ERR_UNSUPPORTED;   /* Sotto writes only Update proposals so far */
	if (add) {
		if ((h = hex_of(kp->p, kp->len)) == NULL)
			return SOTTO_ERR_NOMEM;
	} else if ((r = party_leaf(target, &leaf)) != 0)
		return r;
	ans = ts_oracle_call(oracle, "{s:s, s:s, s:s, s:i, s:s*, s:b}", "op", "propose", "member",
	    p->name, "kind", add ? "add" : "remove", "removed", (int)leaf, "key_package", h,
	    "public", public);
	free(h);
	return ts_answer_field(ans, "message", out);
}

/* ans[key], hex of exactly n bytes, into out. */
static int
fixed_field(const json_t *ans, const char *key, uint8_t *out, size_t n)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, 1024);
	if ((r = unhex_field(ans, key, &b)) == 0 && b.len != n) {
		snprintf(oracle->error, sizeof(oracle->error), "answer field %s: %zu bytes", key, b.len);
		r = PARTY_TS_REFUSED;
	}
	if (r == 0)
		memcpy(out, b.p, n);
	buf_free(&b);
	return r;
}

int
party_state(struct party *p, struct party_state *st)
{
	static const uint8_t ctx[] = EXPORT_CONTEXT;
	json_t *ans;
	char *h;
	int r;

	memset(st, 0, sizeof(*st));
	if (!p->ts) {
		const struct mls_group *g = &p->m.g;

		if (!p->m.in || g->gc.tree_hash_len != MLS_HASH_LEN)
			return SOTTO_ERR_STATE;
		st->epoch = g->gc.epoch;
		st->leaf = g->own_leaf;
		st->n_leaves = g->tree.n_leaves;
		memcpy(st->epoch_authenticator, g->epoch.epoch_authenticator, MLS_HASH_LEN);
		memcpy(st->tree_hash, g->gc.tree_hash, MLS_HASH_LEN);
		return mls_exporter(st->exported, sizeof(st->exported), g->epoch.exporter_secret,
		    (const uint8_t *)EXPORT_LABEL, strlen(EXPORT_LABEL), ctx, sizeof(ctx) - 1);
	}
	if ((ans = ts_oracle_call(oracle, "{s:s, s:s}", "op", "state", "member", p->name)) == NULL)
		return PARTY_TS_REFUSED;
	st->epoch = (uint64_t)json_integer_value(json_object_get(ans, "epoch"));
	st->leaf = (uint32_t)json_integer_value(json_object_get(ans, "leaf"));
	st->n_leaves = (uint32_t)json_integer_value(json_object_get(ans, "n_leaves"));
	if ((r = fixed_field(ans, "epoch_authenticator", st->epoch_authenticator, MLS_HASH_LEN)) == 0)
		r = fixed_field(ans, "tree_hash", st->tree_hash, MLS_HASH_LEN);
	json_decref(ans);
	if (r != 0)
		return r;
	if ((h = hex_of(ctx, sizeof(ctx) - 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	ans = ts_oracle_call(oracle, "{s:s, s:s, s:s, s:s, s:i}", "op", "export", "member", p->name,
	    "label", EXPORT_LABEL, "context", h, "length", MLS_HASH_LEN);
	free(h);
	if (ans == NULL)
		return PARTY_TS_REFUSED;
	r = fixed_field(ans, "secret", st->exported, MLS_HASH_LEN);
	json_decref(ans);
	return r;
}

int
party_hold_psk(struct party *p, const struct mls_psk *psk)
{
	char *id, *secret;
	int r;

	if (!p->ts) {
		p->m.psks = psk;
		p->m.n_psks = 1;
		return 0;
	}
	id = hex_of(psk->id, psk->id_len);
	secret = hex_of(psk->psk, psk->psk_len);
	r = id == NULL || secret == NULL ? SOTTO_ERR_NOMEM :
	    ts_done(ts_oracle_call(oracle, "{s:s, s:s, s:s, s:s}", "op", "psk", "member", p->name,
	    "id", id, "secret", secret));
	free(id);
	free(secret);
	return r;
}
