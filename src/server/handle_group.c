/*
 * Group requests: GROUP_CREATE, GROUP_COMMIT, GROUP_SEND, GROUP_SEND_SEALED and
 * GROUP_RECEIVED. Each becomes
 * a group write (struct store_group_op) of the next group commit: the writer applies a
 * batch's group writes in one transaction and fsyncs before anyone is answered, so nothing
 * acknowledged is lost. The answer goes out when the write is done, and the entry it made
 * is delivered to the members then (group_push.c), never before it is durable.
 *
 * Addresses are resolved to local names here (another domain is refused); the writer turns
 * them into accounts inside the transaction, so that the check and the change are one.
 *
 * GROUP_SEND_SEALED comes on an unidentified connection: no account, only the group
 * token, whose verifier the writer checks against the group's current epoch in the same
 * transaction as the append (docs/SERVER.md, "Group tokens").
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"

_Static_assert(STORE_GROUP_VERIFIER_LEN == PROTO_GROUP_TOKEN_LEN, "one verifier length");

typedef char local_name[STORE_NAME_MAX + 1];

struct group_job {
	struct commit_item ci;          /* first */
	int respond;                    /* GROUP_RECEIVED: only its last item answers */
	uint8_t request;                /* the request type answered */
	local_name *names;              /* adds, removes, Welcome recipients */
	struct store_welcome *welcomes;
	uint8_t *data;                  /* the Commit, the message, the Welcomes */
};

static uint64_t
group_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
group_job_free(struct group_job *j)
{
	if (j == NULL)
		return;
	free(j->ci.group.members);
	free(j->names);
	free(j->welcomes);
	free(j->data);
	free(j);
}

static void
group_done(struct commit_item *it)
{
	struct group_job *j = (struct group_job *)it;
	struct store_group_op *op = &it->group;
	struct peer *p = it->owner;
	struct proto_msg resp;
	int r = it->result != 0 ? it->result : op->result;

	if (j->respond && p->state != PEER_CLOSED) {
		proto_response(&resp, j->request, (uint32_t)it->tag,
		    j->request == PROTO_GROUP_RECEIVED ? it->result : r);
		resp.u.group_result.seq = op->seq;
		resp.u.group_result.epoch = op->cur_epoch;
		(void)peer_send(p, &resp);
	}
	if (r == 0 && !op->duplicate && op->kind == STORE_GROUP_COMMIT)
		group_push_deliver(p->srv, op, PROTO_GROUP_COMMIT_ENTRY);
	else if (r == 0 && !op->duplicate && op->kind == STORE_GROUP_MESSAGE)
		group_push_deliver(p->srv, op, PROTO_GROUP_APPLICATION);
	group_job_free(j);
}

static void
group_submit(struct peer *p, struct group_job *j, const struct proto_msg *m,
    const struct proto_group_id *g, int kind, int respond)
{
	struct server *s = p->srv;
	struct store_group_op *op = &j->ci.group;

	j->request = m->type;
	j->respond = respond;
	op->kind = kind;
	memcpy(op->group, g->id, g->len);
	op->group_len = g->len;
	op->account = p->acct != NULL ? p->acct->id : 0;
	op->ts = group_now_ms();
	op->members_max = s->cfg.group_members_max;
	op->groups_max = s->cfg.group_max;
	op->log_max = s->cfg.group_log_max;
	j->ci.kind = COMMIT_GROUP;
	j->ci.finish = group_done;
	j->ci.owner = p;
	j->ci.tag = m->id;
	p->commits++;
	commit_submit(s->commit, &j->ci);
}

void
handle_group_create(struct peer *p, const struct proto_msg *m)
{
	struct group_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	memcpy(j->ci.group.verifier, m->u.group_create.verifier, STORE_GROUP_VERIFIER_LEN);
	group_submit(p, j, m, &m->u.group_create.group, STORE_GROUP_CREATE, 1);
}

/* The local names of a list's addresses into names from *k on. */
static int
names_of(struct server *s, const struct proto_addr_list *l, local_name *names, size_t *k)
{
	char a[ADDRESS_MAX + 1];
	size_t off = 0;
	int r;

	while ((r = proto_addr_list_next(l, &off, a)) == 0)
		if ((r = server_local_name(s, a, names[(*k)++])) != 0)
			return r;
	return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}

/* Copies what the Commit request carries into j (names, Welcomes, bytes). */
static int
commit_job_fill(struct server *s, struct group_job *j, const struct proto_group_commit *gc)
{
	struct store_group_op *op = &j->ci.group;
	struct proto_welcome w;
	size_t n_names = gc->add.n + gc->remove.n, bytes = gc->commit.len, off = 0, k = 0, i;
	int r;

	for (off = 0, i = 0; (r = proto_welcome_list_next(&gc->welcomes, &off, &w)) == 0; i++) {
		n_names += w.to.n;
		bytes += w.data.len;
	}
	if (r != SOTTO_ERR_NOT_FOUND)
		return r;
	/* Each added account gets one Welcome: more recipients than adds cannot be right. */
	if (n_names - gc->add.n - gc->remove.n > gc->add.n)
		return SOTTO_ERR_INVALID_ARG;
	if ((j->names = calloc(n_names + 1, sizeof(*j->names))) == NULL ||
	    (j->welcomes = calloc(gc->welcomes.n + 1, sizeof(*j->welcomes))) == NULL ||
	    (j->data = malloc(bytes)) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(j->data, gc->commit.p, gc->commit.len);
	op->data.p = j->data;
	op->data.len = gc->commit.len;
	bytes = gc->commit.len;
	op->epoch = gc->epoch;
	memcpy(op->verifier, gc->verifier, STORE_GROUP_VERIFIER_LEN);
	op->add = (const local_name *)&j->names[k];
	op->n_add = gc->add.n;
	if ((r = names_of(s, &gc->add, j->names, &k)) != 0)
		return r;
	op->remove = (const local_name *)&j->names[k];
	op->n_remove = gc->remove.n;
	if ((r = names_of(s, &gc->remove, j->names, &k)) != 0)
		return r;
	for (off = 0, i = 0; (r = proto_welcome_list_next(&gc->welcomes, &off, &w)) == 0; i++) {
		memcpy(j->data + bytes, w.data.p, w.data.len);
		j->welcomes[i].data.p = j->data + bytes;
		j->welcomes[i].data.len = w.data.len;
		bytes += w.data.len;
		j->welcomes[i].to = (const local_name *)&j->names[k];
		j->welcomes[i].n_to = w.to.n;
		if ((r = names_of(s, &w.to, j->names, &k)) != 0)
			return r;
	}
	op->welcomes = j->welcomes;
	op->n_welcomes = gc->welcomes.n;
	return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}

void
handle_group_commit(struct peer *p, const struct proto_msg *m)
{
	const struct proto_group_commit *gc = &m->u.group_commit;
	struct group_job *j;
	int r;

	if (gc->add.n > p->srv->cfg.group_members_max) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_GROUP_FULL);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	if ((r = commit_job_fill(p->srv, j, gc)) != 0) {
		group_job_free(j);
		peer_respond(p, m->type, m->id, r);
		return;
	}
	group_submit(p, j, m, &gc->group, STORE_GROUP_COMMIT, 1);
}

/* The job of a GROUP_SEND or GROUP_SEND_SEALED: the message and its client id. */
static struct group_job *
send_job(struct peer *p, const struct proto_msg *m)
{
	const struct proto_group_send *gs = &m->u.group_send;
	struct store_group_op *op;
	struct group_job *j;

	if (gs->message.len > p->srv->cfg.group_message_max) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_MESSAGE_TOO_LARGE);
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL || (j->data = malloc(gs->message.len)) == NULL) {
		group_job_free(j);
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return NULL;
	}
	op = &j->ci.group;
	memcpy(j->data, gs->message.p, gs->message.len);
	op->data.p = j->data;
	op->data.len = gs->message.len;
	memcpy(op->cmid, gs->client_msg_id, STORE_CMID_LEN);
	return j;
}

void
handle_group_send(struct peer *p, const struct proto_msg *m)
{
	struct group_job *j;

	if ((j = send_job(p, m)) != NULL)
		group_submit(p, j, m, &m->u.group_send.group, STORE_GROUP_MESSAGE, 1);
}

/*
 * A GROUP_SEND on an unidentified connection: the writer takes it with the current
 * epoch's group token only. Before that, the rate of the token presented (keyed by the
 * first bytes of its verifier, so that a flood through one token, or a guessing run
 * through many, is held back per token and per connection) allows it.
 */
void
handle_group_send_sealed(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	uint8_t key[RATELIMIT_ADDR_LEN];
	struct group_job *j;

	if ((j = send_job(p, m)) == NULL)
		return;
	j->ci.group.sealed = 1;
	proto_group_verifier(j->ci.group.verifier, m->u.group_send.token);
	memcpy(key, j->ci.group.verifier, sizeof(key));
	if (!ratelimit_key_take(s->sealed_groups, key, s->cfg.sealed_rate, s->cfg.sealed_burst,
	    server_now_ms(s))) {
		log_debug("a group token's sealed rate exceeded");
		group_job_free(j);
		peer_respond(p, m->type, m->id, SOTTO_ERR_LIMIT);
		return;
	}
	group_submit(p, j, m, &m->u.group_send.group, STORE_GROUP_MESSAGE, 1);
}

/*
 * One group write per acknowledgement, all in the same group commit; the last one's
 * completion answers the request (items complete in submission order). An
 * acknowledgement of an unknown group, or of one the account is not in, changes nothing.
 */
void
handle_group_received(struct peer *p, const struct proto_msg *m)
{
	const struct proto_group_acks *l = &m->u.group_received;
	struct proto_group_ack a;
	struct group_job *j, *jobs[PROTO_MAX_GROUP_ACKS];
	size_t off = 0, n = 0;
	int r;

	while ((r = proto_group_acks_next(l, &off, &a)) == 0 && n < PROTO_MAX_GROUP_ACKS) {
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			r = SOTTO_ERR_NOMEM;
			break;
		}
		j->ci.group.ack_seq = a.seq;
		memcpy(j->ci.group.group, a.group.id, a.group.len);
		j->ci.group.group_len = a.group.len;
		jobs[n++] = j;
		group_push_acked(p, &a);
	}
	if (r != SOTTO_ERR_NOT_FOUND && r != 0) {
		for (size_t i = 0; i < n; i++)
			group_job_free(jobs[i]);
		peer_respond(p, m->type, m->id, r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct proto_group_id g;

		memcpy(g.id, jobs[i]->ci.group.group, jobs[i]->ci.group.group_len);
		g.len = jobs[i]->ci.group.group_len;
		group_submit(p, jobs[i], m, &g, STORE_GROUP_ACK, i + 1 == n);
	}
	group_pump(p);
}
