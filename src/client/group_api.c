/*
 * libsotto's public group API (sotto/group.h): the group layer (group.h) joined to the
 * delivery service (group_net.h) over the account's connection: KeyPackage upkeep,
 * creating, adding, removing, leaving and sending, each made again when another member's
 * Commit took the epoch first. What the server pushes is taken in group_push.c.
 */
#include "client/group_api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "client/client_int.h"
#include "client/file_transfer.h"
#include "client/group.h"
#include "client/group_content.h"
#include "client/group_net.h"
#include "mail/mail_content.h"
#include "mls/credential.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "wire/address.h"

#define GROUP_KP_LOW 10                 /* fewer one-time KeyPackages on the server: upload */
#define GROUP_KP_BATCH 20               /* one-time KeyPackages per upload */
#define GROUP_REBASE_MAX 4              /* Commits of ours made again after a stale epoch */

struct gref {
	uint8_t id[STORE_GROUP_ID_MAX];
	size_t len;
};

void
client_group_id_hex(char *out, const uint8_t *id, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, id, len);
}

/* The group a caller names, on a connected account. */
static int
find_connected(struct sotto *s, const char *group, struct gref *g)
{
	int r;

	if (group == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = client_group_find(s, group, g->id, &g->len)) != 0)
		return r;
	return sotto_connect(s, CLIENT_TIMEOUT_MS);
}

/* ---- KeyPackages ---- */

static int
upload_kps(struct sotto *s, uint32_t n, int last_resort, struct proto_key_package_count *left,
    int timeout_ms)
{
	struct buf kp[GROUP_KP_BATCH], lr;
	struct proto_blob b[GROUP_KP_BATCH], bl;
	uint32_t i, made = 0;
	int r = 0;

	buf_init_dyn(&lr, MLS_MESSAGE_MAX);
	for (i = 0; i < n && r == 0; i++, made++) {
		buf_init_dyn(&kp[i], MLS_MESSAGE_MAX);
		if ((r = client_key_package_new(s, 0, &kp[i])) == 0) {
			b[i].p = kp[i].p;
			b[i].len = kp[i].len;
		}
	}
	if (r == 0 && last_resort && (r = client_key_package_new(s, 1, &lr)) == 0) {
		bl.p = lr.p;
		bl.len = lr.len;
	}
	if (r == 0)
		r = group_net_upload_key_packages(s->ops, s->t, b, n, last_resort ? &bl : NULL,
		    left, timeout_ms);
	for (i = 0; i < made; i++)
		buf_free(&kp[i]);
	buf_free(&lr);
	return r;
}

int
client_key_packages_replenish(struct sotto *s, int asked, int timeout_ms)
{
	struct proto_key_package_count left;
	int r, low;

	if (s->t == NULL)
		return SOTTO_ERR_CLOSED;
	if ((r = client_key_packages_prune(s)) < 0)
		return r;
	/* An empty upload answers with the stock. */
	if ((r = upload_kps(s, 0, 0, &left, timeout_ms)) != 0)
		return r;
	/* The server's notice says its own mark was passed: a batch then, whatever ours. */
	low = asked || left.count < GROUP_KP_LOW;
	if (!low && left.has_last_resort)
		return 0;
	return upload_kps(s, low ? GROUP_KP_BATCH : 0, !left.has_last_resort, &left,
	    timeout_ms);
}

/* ---- Commits ---- */

/* Our pending Commit to the delivery service, its answer passed to the group layer.
 * res->epoch: with SOTTO_ERR_STALE_EPOCH, the group's epoch on the server. */
static int
commit_out(struct sotto *s, const struct gref *g, const struct buf *commit,
    const char *const *add, size_t n_add, const struct buf *welcome, const char *const *rm,
    size_t n_rm, struct proto_group_result *res)
{
	uint8_t verifier[PROTO_GROUP_TOKEN_LEN];
	struct group_net_welcome w;
	struct group_net_commit gc;
	uint64_t epoch;
	int r, d;

	if ((r = client_group_epoch(s, g->id, g->len, &epoch)) != 0 ||
	    (r = client_group_verifier(s, g->id, g->len, verifier)) != 0)
		return r;
	memset(&gc, 0, sizeof(gc));
	memset(&w, 0, sizeof(w));
	gc.id = g->id;
	gc.id_len = g->len;
	gc.epoch = epoch - 1;
	gc.verifier = verifier;
	gc.commit = commit->p;
	gc.commit_len = commit->len;
	gc.add = add;
	gc.n_add = n_add;
	gc.remove = rm;
	gc.n_remove = n_rm;
	if (n_add > 0) {
		w.data = welcome->p;
		w.len = welcome->len;
		w.to = add;
		w.n_to = n_add;
		gc.welcomes = &w;
		gc.n_welcomes = 1;
	}
	r = group_net_commit(s->ops, s->t, &gc, res, CLIENT_TIMEOUT_MS);
	/* Accepted or refused for good: the state before it is dropped or restored. A lost
	 * connection leaves it pending: a message of the new epoch settles it later. */
	if (r == 0 || r == SOTTO_ERR_STALE_EPOCH || (r < 0 && s->t != NULL && r !=
	    SOTTO_ERR_TIMEOUT)) {
		if ((d = client_group_commit_done(s, g->id, g->len, r == 0)) != 0)
			return d;
	}
	return r;
}

/*
 * An application message of ours, made in our current epoch, to the delivery service:
 * GROUP_SEND_SEALED with that epoch's group token on the handle's kept unidentified
 * connection (docs/PROTOCOL.md 14.6, sealed_conn.c), so that nothing on it names us,
 * when the transport has them; else GROUP_SEND on the account's connection. A sealed
 * connection that cannot be made is SOTTO_ERR_UNREACHABLE (never sent identified
 * instead).
 */
static int
message_out(struct sotto *s, const struct gref *g, const uint8_t cmid[STORE_MSGID_LEN],
    const struct buf *msg, struct proto_group_result *res)
{
	uint8_t token[PROTO_GROUP_TOKEN_LEN];
	uint64_t epoch;
	int r;

	if (s->ops->open_sealed == NULL)
		return group_net_send(s->ops, s->t, g->id, g->len, cmid, msg->p, msg->len, res,
		    CLIENT_TIMEOUT_MS);
	if ((r = client_group_token(s, g->id, g->len, &epoch, token)) != 0)
		return r;
	r = group_net_send_sealed(&client_sealed_ops, s, g->id, g->len, token, cmid, msg->p,
	    msg->len, res, CLIENT_TIMEOUT_MS);
	sodium_memzero(token, sizeof(token));
	return r;
}

/* After a stale Commit: takes the group's pushes until it reaches epoch (the server's). */
static int
catch_up(struct sotto *s, const struct gref *g, uint64_t epoch)
{
	uint64_t now_epoch = 0, deadline = client_now_ms() + CLIENT_TIMEOUT_MS;
	int r;

	for (;;) {
		if ((r = client_group_epoch(s, g->id, g->len, &now_epoch)) != 0)
			return r;
		if (now_epoch >= epoch)
			return 0;
		if (client_now_ms() >= deadline)
			return SOTTO_ERR_TIMEOUT;
		if ((r = sotto_poll(s, 200, NULL, NULL)) < 0)
			return r;
	}
}

/*
 * The group has no group token on the server (made before there were any): our empty
 * Commit registers the next epoch's. Another member's Commit may take the epoch first:
 * then we follow it, and the send that comes next tells whether it registered one.
 */
static int
register_token(struct sotto *s, const struct gref *g)
{
	struct proto_group_result res;
	struct buf commit;
	int r;

	memset(&res, 0, sizeof(res));
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	if ((r = client_group_commit_empty(s, g->id, g->len, &commit)) == 0)
		r = commit_out(s, g, &commit, NULL, 0, NULL, NULL, 0, &res);
	if (r == SOTTO_ERR_STALE_EPOCH)
		r = catch_up(s, g, res.epoch);
	buf_free(&commit);
	return r;
}

/* One of the member's KeyPackages, claimed: its credential must carry the identity key and
 * address the server names for it. */
static int
claim(struct sotto *s, const char *address, struct group_net_claimed *out)
{
	struct mls_key_package kp;
	struct mls_sotto_credential cr;
	char addr[ADDRESS_MAX + 1];
	struct cur c;
	int r;

	if ((r = address_user_normalize(address, addr)) != 0)
		return r;
	if ((r = group_net_claim_key_package(s->ops, s->t, addr, out, CLIENT_TIMEOUT_MS)) != 0)
		return r;
	cur_init(&c, out->kp, out->len);
	mls_key_package_read(&c, &kp);
	if ((r = cur_finish(&c)) != 0)
		return SOTTO_ERR_PROTOCOL;
	if ((r = mls_credential_of_leaf(&kp.leaf, &cr)) != 0)
		return r;
	if (sodium_memcmp(cr.identity_key, out->identity_pk, 32) != 0 ||
	    cr.address_len != strlen(addr) || memcmp(cr.address, addr, cr.address_len) != 0)
		return SOTTO_ERR_UNTRUSTED_IDENTITY;
	return 0;
}

static int
add_members(struct sotto *s, const struct gref *g, const char *const *members, size_t n)
{
	struct group_net_claimed *got = NULL;
	const uint8_t *kps[SOTTO_GROUP_ADD_MAX];
	size_t lens[SOTTO_GROUP_ADD_MAX];
	char (*addrs)[ADDRESS_MAX + 1] = NULL;
	const char *add[SOTTO_GROUP_ADD_MAX];
	struct proto_group_result res;
	struct buf commit, welcome, info;
	struct proto_group_result sres;
	uint8_t cmid[STORE_MSGID_LEN];
	size_t i, tries;
	int r = 0;

	if (n == 0 || n > SOTTO_GROUP_ADD_MAX || members == NULL)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	buf_init_dyn(&info, MLS_MESSAGE_MAX);
	if ((got = calloc(n, sizeof(*got))) == NULL ||
	    (addrs = calloc(n, sizeof(*addrs))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n && r == 0; i++) {
		if ((r = address_user_normalize(members[i], addrs[i])) != 0)
			break;
		if (strcmp(addrs[i], sotto_address(s)) == 0) {
			r = SOTTO_ERR_EXISTS;
			break;
		}
		add[i] = addrs[i];
		if ((r = claim(s, addrs[i], &got[i])) != 0)
			break;
		kps[i] = got[i].kp;
		lens[i] = got[i].len;
	}
	if (r != 0)
		goto out;
	/* Another member's Commit may take the epoch first: follow it, then commit again. */
	for (tries = 0;; tries++) {
		if ((r = client_group_add(s, g->id, g->len, kps, lens, n, &commit, &welcome,
		    &info)) != 0)
			goto out;
		r = commit_out(s, g, &commit, add, n, &welcome, NULL, 0, &res);
		if (r != SOTTO_ERR_STALE_EPOCH || tries == GROUP_REBASE_MAX)
			break;
		if ((r = catch_up(s, g, res.epoch)) != 0)
			goto out;
	}
	if (r != 0)
		goto out;
	/* The new members learn the group's name from this. */
	randombytes_buf(cmid, sizeof(cmid));
	r = message_out(s, g, cmid, &info, &sres);
out:
	free(got);
	free(addrs);
	buf_free(&commit);
	buf_wipe_free(&welcome);
	buf_wipe_free(&info);
	return r;
}

static int
remove_member(struct sotto *s, const struct gref *g, const char *member)
{
	char addr[ADDRESS_MAX + 1];
	const char *rm[1] = { addr };
	struct proto_group_result res;
	struct buf commit;
	size_t tries;
	int r;

	if ((r = address_user_normalize(member, addr)) != 0)
		return r;
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	for (tries = 0;; tries++) {
		if ((r = client_group_remove(s, g->id, g->len, addr, &commit)) != 0)
			break;
		r = commit_out(s, g, &commit, NULL, 0, NULL, rm, 1, &res);
		if (r != SOTTO_ERR_STALE_EPOCH || tries == GROUP_REBASE_MAX)
			break;
		if ((r = catch_up(s, g, res.epoch)) != 0)
			break;
	}
	buf_free(&commit);
	return r;
}

/* A member asked to leave: our Commit of its request (another member's may win the
 * epoch: then ours is dropped and theirs arrives). */
int
client_group_commit_leave(struct sotto *s, const uint8_t *id, size_t id_len, const char *who)
{
	const char *rm[1] = { who };
	struct proto_group_result res;
	struct buf commit;
	struct gref g;
	int r;

	memcpy(g.id, id, id_len);
	g.len = id_len;
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	if ((r = client_group_commit_pending(s, g.id, g.len, &commit)) == 0)
		r = commit_out(s, &g, &commit, NULL, 0, NULL, rm, 1, &res);
	buf_free(&commit);
	return r;
}

/* ---- the public calls ---- */

int
sotto_group_create(struct sotto *s, const char *name, const char *const *members, size_t n,
    char id[2 * SOTTO_GROUP_ID_MAX + 1])
{
	uint8_t verifier[PROTO_GROUP_TOKEN_LEN];
	struct gref g;
	int r;

	id[0] = '\0';
	if ((r = sotto_connect(s, CLIENT_TIMEOUT_MS)) != 0)
		return r;
	if ((r = client_group_create(s, name, g.id)) != 0)
		return r;
	g.len = CLIENT_GROUP_ID_LEN;
	if ((r = client_group_verifier(s, g.id, g.len, verifier)) != 0 ||
	    (r = group_net_create(s->ops, s->t, g.id, g.len, verifier, CLIENT_TIMEOUT_MS)) != 0) {
		/* Not on the server: no group (a leftover would only show in sotto_groups). */
		if (store_group_delete(s->st, g.id, g.len) != 0)
			return r;
		return r;
	}
	client_group_id_hex(id, g.id, g.len);
	return n > 0 ? add_members(s, &g, members, n) : 0;
}

int
sotto_group_add(struct sotto *s, const char *group, const char *const *members, size_t n)
{
	struct gref g;
	int r;

	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	return add_members(s, &g, members, n);
}

int
sotto_group_remove(struct sotto *s, const char *group, const char *const *members, size_t n)
{
	struct gref g;
	size_t i;
	int r;

	if (n == 0 || n > SOTTO_GROUP_ADD_MAX || members == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	for (i = 0, r = 0; i < n && r == 0; i++)
		r = remove_member(s, &g, members[i]);
	return r;
}

int
sotto_group_leave(struct sotto *s, const char *group)
{
	struct proto_group_result res;
	uint8_t cmid[STORE_MSGID_LEN];
	struct buf out;
	struct gref g;
	int r;

	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	buf_init_dyn(&out, MLS_MESSAGE_MAX);
	randombytes_buf(cmid, sizeof(cmid));
	if ((r = client_group_leave(s, g.id, g.len, &out)) == 0)
		r = group_net_send(s->ops, s->t, g.id, g.len, cmid, out.p, out.len, &res,
		    CLIENT_TIMEOUT_MS);
	buf_free(&out);
	return r;
}

/* A content of type (group_content.h: a text, a mail's part, a FILE content; text, len)
 * or, without text, the group's name (NULL: unchanged) and timer, to the group. Sealed,
 * the server takes a message of the current epoch only and answers one of the previous
 * epoch STALE_EPOCH; identified, it takes one of any epoch, which every member drops if
 * the group has left it. Either way: follow the group and send it again. A group the
 * server holds no token for (NO_GROUP_TOKEN) gets one with our empty Commit, and the
 * message is made again in its epoch and sent sealed: never identified instead. */
static int
send_app(struct sotto *s, const struct gref *g, uint8_t type, const uint8_t *text, size_t len,
    const char *name, uint32_t expiry, uint8_t msg_id[STORE_MSGID_LEN],
    struct proto_group_result *res)
{
	uint8_t cmid[STORE_MSGID_LEN];
	struct buf out;
	uint64_t epoch;
	size_t tries;
	int r;

	buf_init_dyn(&out, MLS_MESSAGE_MAX);
	for (tries = 0;; tries++) {
		if ((r = client_group_epoch(s, g->id, g->len, &epoch)) != 0)
			break;
		r = text != NULL ? client_group_send_type(s, g->id, g->len, type, text, len, msg_id,
		    &out) : client_group_set_info(s, g->id, g->len, name, expiry, &out);
		if (r != 0)
			break;
		if (text != NULL)
			memcpy(cmid, msg_id, sizeof(cmid));
		else
			randombytes_buf(cmid, sizeof(cmid));
		r = message_out(s, g, cmid, &out, res);
		if ((r != 0 && r != SOTTO_ERR_STALE_EPOCH && r != SOTTO_ERR_NO_GROUP_TOKEN) ||
		    (r == 0 && res->epoch <= epoch))
			break;
		if (tries == GROUP_REBASE_MAX) {
			r = r == 0 ? SOTTO_ERR_STALE_EPOCH : r;
			break;
		}
		if ((r = r == SOTTO_ERR_NO_GROUP_TOKEN ? register_token(s, g) :
		    catch_up(s, g, res->epoch)) != 0)
			break;
	}
	buf_wipe_free(&out);
	return r;
}

/* Our entry in the history for the content of type (group_content.h) that went to group g
 * at seq (its id: id). */
static int
history_out(struct sotto *s, const struct gref *g, uint8_t type, uint64_t seq,
    const uint8_t *body, size_t len, const uint8_t id[STORE_MSGID_LEN])
{
	struct store_message m;
	struct store_group rec;
	uint64_t now = client_now();
	int r;

	if ((r = store_group_get(s->st, g->id, g->len, &rec)) != 0)
		return r;
	memset(&m, 0, sizeof(m));
	memcpy(m.id, id, sizeof(m.id));
	memcpy(m.peer, sotto_address(s), strlen(sotto_address(s)) + 1);
	m.dir = STORE_DIR_OUT;
	m.type = type == GROUP_CONTENT_MAIL ? STORE_MSG_MAIL : type == GROUP_CONTENT_FILE ?
	    STORE_MSG_FILE : STORE_MSG_TEXT;
	m.flags = STORE_FLAG_DELIVERED;
	m.seq = seq;
	m.server_time = now;
	m.local_time = now;
	m.expires_at = rec.expiry_seconds ? now + rec.expiry_seconds : 0;
	m.body = (uint8_t *)(uintptr_t)body;
	m.body_len = len;
	memcpy(m.group, g->id, g->len);
	m.group_len = g->len;
	store_group_wipe(&rec);
	return store_message_add(s->st, &m);
}

/* A text or a FILE content (type), sent and stored in our history. */
static int
send_body(struct sotto *s, const char *group, uint8_t type, const uint8_t *text, size_t len,
    uint8_t id[SOTTO_ID_LEN])
{
	struct proto_group_result res;
	uint8_t mid[STORE_MSGID_LEN];
	struct gref g;
	int r;

	if (text == NULL || len == 0)
		return SOTTO_ERR_INVALID_ARG;
	if (type != GROUP_CONTENT_FILE && len > SOTTO_TEXT_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	if ((r = send_app(s, &g, type, text, len, NULL, 0, mid, &res)) != 0)
		return r;
	if ((r = history_out(s, &g, type, res.seq, text, len, mid)) == 0 && id != NULL)
		memcpy(id, mid, SOTTO_ID_LEN);
	return r;
}

int
client_group_mail_out(struct sotto *s, const char *group, const uint8_t *msg, size_t len,
    const uint8_t mail_id[MAIL_CONTENT_ID_LEN], const uint8_t hid[SOTTO_ID_LEN])
{
	struct proto_group_result res;
	uint8_t mid[STORE_MSGID_LEN];
	struct buf part;
	struct gref g;
	uint32_t count = 0, i;
	int r;

	if ((r = mail_content_count(len, &count)) != 0)
		return r == SOTTO_ERR_TOO_LARGE ? SOTTO_ERR_MESSAGE_TOO_LARGE : r;
	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	memset(&res, 0, sizeof(res));
	buf_init_dyn(&part, MAIL_CONTENT_HEADER + MAIL_CONTENT_CHUNK);
	for (i = 0; i < count && r == 0; i++)
		if ((r = mail_content_part(mail_id, msg, len, i, &part)) == 0)
			r = send_app(s, &g, GROUP_CONTENT_MAIL, part.p, part.len, NULL, 0, mid,
			    &res);
	buf_wipe_free(&part);
	if (r == 0)
		r = history_out(s, &g, GROUP_CONTENT_MAIL, res.seq, msg, len, hid);
	return r == SOTTO_ERR_EXISTS ? 0 : r;       /* the same mail again */
}

int
sotto_group_send(struct sotto *s, const char *group, const char *text, size_t len,
    uint8_t id[SOTTO_ID_LEN])
{
	return send_body(s, group, GROUP_CONTENT_TEXT, (const uint8_t *)text, len, id);
}

int
sotto_group_send_file(struct sotto *s, const char *group, const char *path,
    const char *caption, size_t caption_len, sotto_progress_fn cb, void *ctx,
    uint8_t id[SOTTO_ID_LEN])
{
	struct sotto_group_member *mem = NULL;
	struct file_upload *u = NULL;
	struct content c;
	struct buf body;
	char dest[2 * SOTTO_GROUP_ID_MAX + 8];
	struct gref g;
	size_t n = 0;
	int r;

	if (path == NULL || (caption == NULL && caption_len > 0))
		return SOTTO_ERR_INVALID_ARG;
	if (caption_len > SOTTO_TEXT_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	if ((r = sotto_group_members(s, group, &mem, &n)) != 0)
		return r;
	free(mem);
	if ((u = sodium_malloc(sizeof(*u))) == NULL)
		return SOTTO_ERR_NOMEM;
	buf_init_dyn(&body, CONTENT_FILE_MAX);
	/* one upload for the whole group, fetched by every other member */
	memcpy(dest, "group:", 6);
	client_group_id_hex(dest + 6, g.id, g.len);
	if ((r = client_file_upload(s, path, dest, n > 1 ? (uint16_t)(n - 1 > UINT16_MAX ?
	    UINT16_MAX : n - 1) : 0, cb, ctx, u)) != 0)
		goto out;
	client_file_content(u, caption, caption_len, &c);
	c.seq = 1;      /* the inner header is not used (group_content.h); the codec wants 1 */
	c.sent_ms = client_now_ms();
	memcpy(c.id, u->upload, sizeof(c.id));
	if ((r = content_encode(&c, &body)) != 0 ||
	    (r = send_body(s, group, GROUP_CONTENT_FILE, body.p, body.len, id)) != 0)
		goto out;
	client_file_upload_done(s, u);
out:
	buf_wipe_free(&body);
	sodium_free(u);
	return r;
}

int
sotto_group_set_info(struct sotto *s, const char *group, const char *name, int64_t expiry)
{
	struct proto_group_result res;
	struct store_group rec;
	struct gref g;
	int r;

	if (expiry > (int64_t)SOTTO_EXPIRY_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = find_connected(s, group, &g)) != 0)
		return r;
	if (expiry < 0) {
		if ((r = store_group_get(s->st, g.id, g.len, &rec)) != 0)
			return r;
		expiry = rec.expiry_seconds;
		store_group_wipe(&rec);
	}
	return send_app(s, &g, GROUP_CONTENT_INFO, NULL, 0, name, (uint32_t)expiry, NULL, &res);
}

int
sotto_groups(struct sotto *s, struct sotto_group **out, size_t *n)
{
	struct store_group_list l = { 0 };
	struct client_group_members mem;
	struct sotto_group *v = NULL;
	const char *domain = sotto_address(s) ? strrchr(sotto_address(s), '@') : NULL;
	size_t i;
	int r;

	*out = NULL;
	*n = 0;
	if (domain == NULL)
		return SOTTO_ERR_STATE;
	domain++;
	if ((r = store_group_list(s->st, &l)) != 0)
		return r;
	if (l.n > 0 && (v = calloc(l.n, sizeof(*v))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		client_group_id_hex(v[i].id, l.v[i].id, l.v[i].id_len);
		memcpy(v[i].name, l.v[i].name, sizeof(v[i].name));
		if (sotto_group_address(v[i].id, domain, v[i].address) != 0)
			v[i].address[0] = '\0';        /* an id too long for a local part */
		v[i].status = (enum sotto_group_status)l.v[i].status;
		v[i].expiry = l.v[i].expiry_seconds;
		if (l.v[i].status >= STORE_GROUP_REMOVED)       /* or MISSED */
			continue;
		if ((r = client_group_members(s, l.v[i].id, l.v[i].id_len, &mem)) != 0)
			goto out;
		v[i].n_members = mem.n;
		client_group_members_free(&mem);
	}
	*out = v;
	*n = l.n;
	v = NULL;
out:
	free(v);
	store_group_list_free(&l);
	return r;
}

int
sotto_group_members(struct sotto *s, const char *group, struct sotto_group_member **out,
    size_t *n)
{
	struct client_group_members mem = { 0 };
	struct sotto_group_member *v = NULL;
	struct gref g;
	size_t i;
	int r;

	*out = NULL;
	*n = 0;
	if (group == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = client_group_find(s, group, g.id, &g.len)) != 0 ||
	    (r = client_group_members(s, g.id, g.len, &mem)) != 0)
		return r;
	if (mem.n > 0 && (v = calloc(mem.n, sizeof(*v))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < mem.n; i++) {
		memcpy(v[i].address, mem.v[i].address, sizeof(v[i].address));
		v[i].trust = (enum sotto_member_trust)mem.v[i].trust;
	}
	*out = v;
	*n = mem.n;
out:
	client_group_members_free(&mem);
	return r;
}

const char *
sotto_member_trust_name(enum sotto_member_trust t)
{
	switch (t) {
	case SOTTO_MEMBER_SELF: return "self";
	case SOTTO_MEMBER_VERIFIED: return "verified";
	case SOTTO_MEMBER_KNOWN: return "known";
	case SOTTO_MEMBER_UNKNOWN: return "unknown";
	case SOTTO_MEMBER_CHANGED: return "changed";
	case SOTTO_MEMBER_BLOCKED: return "blocked";
	}
	return "unknown";
}
