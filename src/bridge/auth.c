#include "bridge/auth.h"

#include <stdlib.h>
#include <string.h>

#define DECAY_MS (15 * 60 * 1000)      /* a name quiet this long starts afresh */

/* A user name's recent failures. The name is kept only as a keyed short hash. */
struct name_state {
	uint8_t key[crypto_shorthash_BYTES];
	int used;
	unsigned fails;
	uint64_t last_fail;
};

struct bridge_auth {
	uv_loop_t *loop;
	char *user;
	char hash[BRIDGE_AUTH_HASH_BYTES];
	struct bridge_auth_config cfg;
	uint8_t name_key[crypto_shorthash_KEYBYTES];
	struct name_state names[BRIDGE_AUTH_NAMES];
	struct bridge_auth_req *queue, *queue_tail;     /* waiting for a hash slot */
	unsigned queued;
	unsigned inflight;              /* requests not yet finished */
	unsigned hashing;               /* of which on the thread pool */
	int dying;
};

struct bridge_auth_req {
	uv_work_t work;
	uv_timer_t delay;
	struct bridge_auth *a;
	bridge_auth_cb cb;
	void *arg;
	struct bridge_auth_req *next;   /* in the queue */
	int result;
	int cancelled;
	/* secret: the password; both wiped before the request is freed */
	uint8_t user[SOTTO_ADDRESS_MAX];
	size_t ulen;
	uint8_t pw[BRIDGE_PASSWORD_MAX];
	size_t pwlen;
};

static struct bridge_auth_req *queue_pop(struct bridge_auth *a);
static void req_answer(struct bridge_auth_req *q, int result, uint64_t delay_ms);

int
bridge_auth_hash_password(const char *pw, size_t pwlen, unsigned long long opslimit,
    size_t memlimit, char hash[static BRIDGE_AUTH_HASH_BYTES])
{
	if (crypto_pwhash_str(hash, pw, pwlen, opslimit, memlimit) != 0)
		return SOTTO_ERR_NOMEM;
	return 0;
}

static int
user_matches(const char *want, const uint8_t *user, size_t ulen)
{
	size_t i, n = strlen(want);
	int diff = n != ulen;

	for (i = 0; i < ulen && i < n; i++) {
		uint8_t a = user[i], b = (uint8_t)want[i];

		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		diff |= a != b;
	}
	return !diff;
}

int
bridge_auth_verify(const char *want_user, const char *hash, const uint8_t *user, size_t ulen,
    const uint8_t *pw, size_t pwlen)
{
	int user_ok = user_matches(want_user, user, ulen);
	int pw_ok = crypto_pwhash_str_verify(hash, (const char *)pw, pwlen) == 0;

	return user_ok && pw_ok ? 0 : SOTTO_ERR_AUTH;
}

int
bridge_auth_new(struct bridge_auth **out, uv_loop_t *loop, const struct bridge_auth_config *cfg)
{
	struct bridge_auth *a;

	*out = NULL;
	if (cfg->user == NULL || cfg->pw_hash == NULL ||
	    strlen(cfg->pw_hash) >= BRIDGE_AUTH_HASH_BYTES || strlen(cfg->user) > SOTTO_ADDRESS_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((a->user = strdup(cfg->user)) == NULL) {
		free(a);
		return SOTTO_ERR_NOMEM;
	}
	a->loop = loop;
	memcpy(a->hash, cfg->pw_hash, strlen(cfg->pw_hash) + 1);
	a->cfg = *cfg;
	a->cfg.user = a->user;
	a->cfg.pw_hash = a->hash;
	if (a->cfg.free_failures == 0)
		a->cfg.free_failures = 3;
	if (a->cfg.fail_delay_ms == 0)
		a->cfg.fail_delay_ms = 1000;
	if (a->cfg.delay_max_ms == 0)
		a->cfg.delay_max_ms = 5 * 60 * 1000;
	crypto_shorthash_keygen(a->name_key);
	if (a->cfg.max_inflight == 0)
		a->cfg.max_inflight = 2;
	*out = a;
	return 0;
}

static void
auth_destroy(struct bridge_auth *a)
{
	free(a->user);
	free(a);
}

void
bridge_auth_free(struct bridge_auth *a)
{
	if (a == NULL)
		return;
	if (a->inflight > 0) {
		struct bridge_auth_req *q;

		a->dying = 1;
		while ((q = queue_pop(a)) != NULL)
			req_answer(q, SOTTO_ERR_STATE, 0);
		return;
	}
	auth_destroy(a);
}

static struct name_state *
name_find(struct bridge_auth *a, const uint8_t *user, size_t ulen, uint64_t now)
{
	uint8_t lower[SOTTO_ADDRESS_MAX], key[crypto_shorthash_BYTES];
	struct name_state *p, *victim = NULL;
	size_t i;

	if (ulen > sizeof(lower))
		ulen = sizeof(lower);
	for (i = 0; i < ulen; i++)
		lower[i] = user[i] >= 'A' && user[i] <= 'Z' ? (uint8_t)(user[i] + 32) : user[i];
	crypto_shorthash(key, lower, ulen, a->name_key);
	for (i = 0; i < BRIDGE_AUTH_NAMES; i++) {
		p = &a->names[i];
		if (p->used && memcmp(p->key, key, sizeof(key)) == 0) {
			if (now - p->last_fail > DECAY_MS)
				p->fails = 0;
			return p;
		}
		if (victim == NULL || !p->used || (victim->used && p->last_fail < victim->last_fail))
			victim = p;
	}
	/* Forgetting the name that failed least recently only lets its next failures start
	 * at the base delay again; the hash rate still bounds guessing. */
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, key, sizeof(key));
	victim->used = 1;
	return victim;
}

uint64_t
bridge_auth_failed(struct bridge_auth *a, const uint8_t *user, size_t ulen, uint64_t now)
{
	struct name_state *p = name_find(a, user, ulen, now);
	unsigned over;
	uint64_t delay = a->cfg.fail_delay_ms;

	if (p->fails < UINT32_MAX)
		p->fails++;
	p->last_fail = now;
	if (p->fails > a->cfg.free_failures) {
		over = p->fails - a->cfg.free_failures;
		delay = over > 30 ? a->cfg.delay_max_ms : a->cfg.fail_delay_ms << over;
		if (delay > a->cfg.delay_max_ms)
			delay = a->cfg.delay_max_ms;
	}
	return delay;
}

static void
req_wipe_free(uv_handle_t *h)
{
	struct bridge_auth_req *q = h->data;
	struct bridge_auth *a = q->a;

	sodium_memzero(q, sizeof(*q));
	free(q);
	if (--a->inflight == 0 && a->dying)
		auth_destroy(a);
}

static void
req_finish(uv_timer_t *t)
{
	struct bridge_auth_req *q = t->data;

	if (!q->cancelled && !q->a->dying)
		q->cb(q->arg, q->result);
	uv_close((uv_handle_t *)&q->delay, req_wipe_free);
}

/* Answers q after delay_ms without hashing (or after its hash). */
static void
req_answer(struct bridge_auth_req *q, int result, uint64_t delay_ms)
{
	sodium_memzero(q->pw, sizeof(q->pw));
	q->result = result;
	uv_timer_start(&q->delay, req_finish, delay_ms, 0);
}

static void
req_work(uv_work_t *w)
{
	struct bridge_auth_req *q = w->data;

	q->result = bridge_auth_verify(q->a->user, q->a->hash, q->user, q->ulen, q->pw, q->pwlen);
	sodium_memzero(q->pw, sizeof(q->pw));
}

static void queue_run(struct bridge_auth *a);

static void
req_after(uv_work_t *w, int status)
{
	struct bridge_auth_req *q = w->data;
	struct bridge_auth *a = q->a;
	int result = status != 0 ? SOTTO_ERR_INTERNAL : q->result;

	a->hashing--;
	/* only a failure waits; a right password is answered at once, whatever came before */
	req_answer(q, result, result == SOTTO_ERR_AUTH ?
	    bridge_auth_failed(a, q->user, q->ulen, uv_now(a->loop)) : 0);
	queue_run(a);
}

static struct bridge_auth_req *
queue_pop(struct bridge_auth *a)
{
	struct bridge_auth_req *q = a->queue;

	if (q != NULL) {
		a->queue = q->next;
		if (a->queue == NULL)
			a->queue_tail = NULL;
		q->next = NULL;
		a->queued--;
	}
	return q;
}

/* Hashes waiting checks, in arrival order, while slots are free. */
static void
queue_run(struct bridge_auth *a)
{
	struct bridge_auth_req *q;

	while (a->hashing < a->cfg.max_inflight && (q = queue_pop(a)) != NULL) {
		if (a->dying) {
			req_answer(q, SOTTO_ERR_STATE, 0);
			continue;
		}
		a->hashing++;
		if (uv_queue_work(a->loop, &q->work, req_work, req_after) != 0) {
			a->hashing--;
			req_answer(q, SOTTO_ERR_INTERNAL, 0);
		}
	}
}

int
bridge_auth_check(struct bridge_auth *a, const uint8_t *user, size_t ulen, const uint8_t *pw,
    size_t pwlen, bridge_auth_cb cb, void *arg, struct bridge_auth_req **req)
{
	struct bridge_auth_req *q;

	*req = NULL;
	if (a->dying)
		return SOTTO_ERR_STATE;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return SOTTO_ERR_NOMEM;
	q->a = a;
	q->cb = cb;
	q->arg = arg;
	uv_timer_init(a->loop, &q->delay);
	q->delay.data = q;
	q->work.data = q;
	a->inflight++;
	*req = q;
	if (ulen > SOTTO_ADDRESS_MAX || pwlen > BRIDGE_PASSWORD_MAX) {
		/* answered without hashing, but it counts as a failure of that name */
		req_answer(q, SOTTO_ERR_AUTH, bridge_auth_failed(a, user, ulen, uv_now(a->loop)));
		return 0;
	}
	if (a->queued >= BRIDGE_AUTH_QUEUE_MAX) {
		req_answer(q, SOTTO_ERR_LIMIT, 0);
		return 0;
	}
	memcpy(q->user, user, ulen);
	q->ulen = ulen;
	memcpy(q->pw, pw, pwlen);
	q->pwlen = pwlen;
	if (a->queue_tail != NULL)
		a->queue_tail->next = q;
	else
		a->queue = q;
	a->queue_tail = q;
	a->queued++;
	queue_run(a);
	return 0;
}

void
bridge_auth_cancel(struct bridge_auth_req *req)
{
	struct bridge_auth *a;
	struct bridge_auth_req **pp;

	if (req == NULL)
		return;
	req->cancelled = 1;
	/* still waiting for a slot: leave the queue now, unhashed */
	a = req->a;
	for (pp = &a->queue; *pp != NULL; pp = &(*pp)->next) {
		if (*pp != req)
			continue;
		*pp = req->next;
		if (a->queue_tail == req) {
			struct bridge_auth_req *t = a->queue;

			while (t != NULL && t->next != NULL)
				t = t->next;
			a->queue_tail = t;
		}
		req->next = NULL;
		a->queued--;
		req_answer(req, SOTTO_ERR_STATE, 0);
		return;
	}
}
