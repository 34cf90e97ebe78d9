/*
 * The MLS KeyPackage directory: UPLOAD_KEY_PACKAGES by an account (one-time ones, and one
 * last-resort one that replaces the one before), CLAIM_KEY_PACKAGE by anyone registered,
 * each one-time KeyPackage handed out once and then the last-resort one, which stays; a
 * KEY_PACKAGE_LOW notice to the owner when its stock runs low. The server keeps the
 * KeyPackages as the owner gave them: whoever claims one checks it (its signature and its
 * credential, bound to the owner's identity key, which the answer carries). Both writes
 * run on the writer thread, which hands out each KeyPackage once however many claims race.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include "server/log.h"

static void
kp_notice(struct peer *p, const struct store_kp_count *c)
{
	struct proto_msg n;

	memset(&n, 0, sizeof(n));
	n.type = PROTO_KEY_PACKAGE_LOW;
	n.u.kp_low.count = c->count;
	n.u.kp_low.has_last_resort = c->has_last_resort;
	(void)peer_send(p, &n);
}

void
key_packages_check_low(struct peer *p, int64_t account, int force)
{
	struct server *s = p->srv;
	struct store_kp_count c;

	if (s->store->ops->key_package_count(s->store, account, &c) != 0)
		return;
	if (!force && (c.count >= s->cfg.key_package_low || (c.count == 0 && !c.has_last_resort)))
		return;
	kp_notice(p, &c);
}

struct kp_upload_job {
	struct commit_item ci;          /* first */
	int64_t account;
	uint32_t max;
	size_t n;
	struct store_blob kps[PROTO_MAX_KEY_PACKAGES];
	struct store_blob last_resort;
	struct store_kp_count left;
	uint8_t data[];
};

static int
kp_upload_write(struct server_store *st, struct commit_item *it)
{
	struct kp_upload_job *j = (struct kp_upload_job *)it;

	return st->ops->key_packages_put(st, j->account, j->kps, j->n,
	    j->last_resort.len > 0 ? &j->last_resort : NULL, j->max, &j->left);
}

static void
kp_upload_done(struct commit_item *it)
{
	struct kp_upload_job *j = (struct kp_upload_job *)it;
	struct peer *p = it->owner;
	struct proto_msg resp;

	if (p->state != PEER_CLOSED) {
		proto_response(&resp, PROTO_UPLOAD_KEY_PACKAGES, (uint32_t)it->tag, it->result);
		resp.u.kp_count.count = j->left.count;
		resp.u.kp_count.has_last_resort = j->left.has_last_resort;
		(void)peer_send(p, &resp);
	}
	free(j);
}

/* Copies b into the job's data at *off. */
static struct store_blob
kp_copy(uint8_t *data, size_t *off, const struct proto_blob *b)
{
	struct store_blob out = { data + *off, b->len };

	memcpy(data + *off, b->p, b->len);
	*off += b->len;
	return out;
}

void
handle_upload_key_packages(struct peer *p, const struct proto_msg *m)
{
	const struct proto_upload_key_packages *u = &m->u.upload_kp;
	struct kp_upload_job *j;
	size_t total = u->last_resort.len, off = 0;

	for (size_t i = 0; i < u->n; i++)
		total += u->kp[i].len;
	if ((j = calloc(1, sizeof(*j) + total)) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	j->account = p->acct->id;
	j->max = p->srv->cfg.key_package_max;
	j->n = u->n;
	for (size_t i = 0; i < u->n; i++)
		j->kps[i] = kp_copy(j->data, &off, &u->kp[i]);
	if (u->last_resort.len > 0)
		j->last_resort = kp_copy(j->data, &off, &u->last_resort);
	peer_submit_call(p, &j->ci, kp_upload_write, kp_upload_done, m->id);
}

struct kp_claim_job {
	struct commit_item ci;          /* first */
	int64_t owner;
	uint8_t identity_key[SERVER_STORE_KEY_LEN];
	struct store_kp_claim c;
};

static int
kp_claim_write(struct server_store *st, struct commit_item *it)
{
	struct kp_claim_job *j = (struct kp_claim_job *)it;

	return st->ops->key_package_take(st, j->owner, &j->c);
}

static void
kp_claim_done(struct commit_item *it)
{
	struct kp_claim_job *j = (struct kp_claim_job *)it;
	struct peer *p = it->owner;
	struct server *s = p->srv;
	struct proto_msg resp;
	struct acct *a;

	if (p->state != PEER_CLOSED) {
		proto_response(&resp, PROTO_CLAIM_KEY_PACKAGE, (uint32_t)it->tag, it->result);
		if (it->result == 0) {
			memcpy(resp.u.claimed.identity_pk, j->identity_key, SERVER_STORE_KEY_LEN);
			resp.u.claimed.last_resort = j->c.last_resort;
			resp.u.claimed.kp.p = j->c.data;
			resp.u.claimed.kp.len = j->c.len;
		}
		(void)peer_send(p, &resp);
	}
	/* The owner hears of every claim that leaves its stock under the mark; an owner that
	 * is offline hears it when it next connects. */
	if (it->result == 0 && j->c.left.count < s->cfg.key_package_low &&
	    (a = server_acct_find(s, j->owner)) != NULL && a->peers != NULL)
		kp_notice(a->peers, &j->c.left);
	free(j);
}

void
handle_claim_key_package(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct store_account owner;
	struct kp_claim_job *j;
	char name[STORE_NAME_MAX + 1];
	int r;

	if ((r = server_local_name(s, m->u.claim.address, name)) != 0 ||
	    (r = s->store->ops->account_by_name(s->store, name, &owner)) != 0) {
		peer_respond(p, m->type, m->id,
		    r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_UNKNOWN_USER : r);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	j->owner = owner.id;
	memcpy(j->identity_key, owner.identity_key, SERVER_STORE_KEY_LEN);
	peer_submit_call(p, &j->ci, kp_claim_write, kp_claim_done, m->id);
}
