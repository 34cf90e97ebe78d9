#include "bridge/auth.h"

#include <stdlib.h>
#include <string.h>

enum { PEERS = 64, PEER_LEN = 64 };
#define DECAY_MS (15 * 60 * 1000)
#define WINDOW_MS (60 * 1000)

struct peer_state {
	char addr[PEER_LEN];
	unsigned fails;
	uint64_t last_fail;
	uint64_t locked_until;
};

struct bridge_auth {
	uv_loop_t *loop;
	char *user;
	char hash[BRIDGE_AUTH_HASH_BYTES];
	struct bridge_auth_config cfg;
	struct peer_state peers[PEERS];
	uint64_t window_start;
	unsigned window_fails;
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
	char peer[PEER_LEN];
	int result;
	int cancelled;
	/* secret: the password; both wiped before the request is freed */
	uint8_t user[BRIDGE_USER_MAX];
	size_t ulen;
	uint8_t pw[BRIDGE_PASSWORD_MAX];
	size_t pwlen;
};

int
bridge_auth_hash_password(const char *pw, size_t pwlen, unsigned long long opslimit,
    size_t memlimit, char hash[static BRIDGE_AUTH_HASH_BYTES])
{
	if (crypto_pwhash_str(hash, pw, pwlen, opslimit, memlimit) != 0)
		return SOTTO_ERR_NOMEM;
	return 0;
}

int
bridge_auth_new_password(char pw[static BRIDGE_PASSWORD_CHARS + 1],
    char hash[static BRIDGE_AUTH_HASH_BYTES])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	size_t i;
	int r;

	for (i = 0; i < BRIDGE_PASSWORD_CHARS; i++)
		pw[i] = alphabet[randombytes_uniform(32)];
	pw[BRIDGE_PASSWORD_CHARS] = '\0';
	r = bridge_auth_hash_password(pw, BRIDGE_PASSWORD_CHARS,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE, hash);
	if (r != 0)
		sodium_memzero(pw, BRIDGE_PASSWORD_CHARS + 1);
	return r;
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
	    strlen(cfg->pw_hash) >= BRIDGE_AUTH_HASH_BYTES || strlen(cfg->user) > BRIDGE_USER_MAX)
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
	if (a->cfg.lockout_ms == 0)
		a->cfg.lockout_ms = 2000;
	if (a->cfg.lockout_max_ms == 0)
		a->cfg.lockout_max_ms = 5 * 60 * 1000;
	if (a->cfg.global_per_min == 0)
		a->cfg.global_per_min = 30;
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
		a->dying = 1;
		return;
	}
	auth_destroy(a);
}

static struct peer_state *
peer_find(struct bridge_auth *a, const char *peer, int create, uint64_t now)
{
	struct peer_state *p, *victim = NULL;
	size_t i;

	for (i = 0; i < PEERS; i++) {
		p = &a->peers[i];
		if (p->addr[0] != '\0' && strncmp(p->addr, peer, PEER_LEN - 1) == 0) {
			if (p->fails > 0 && now - p->last_fail > DECAY_MS && now >= p->locked_until)
				p->fails = 0;
			return p;
		}
		if (victim == NULL || p->addr[0] == '\0' ||
		    (victim->addr[0] != '\0' && p->last_fail < victim->last_fail))
			victim = p;
	}
	if (!create)
		return NULL;
	/* Forgetting the stalest address is safe: the global window still bounds guessing. */
	memset(victim, 0, sizeof(*victim));
	strncpy(victim->addr, peer, PEER_LEN - 1);
	return victim;
}

static void
window_roll(struct bridge_auth *a, uint64_t now)
{
	if (now - a->window_start >= WINDOW_MS) {
		a->window_start = now;
		a->window_fails = 0;
	}
}

int
bridge_auth_admit(struct bridge_auth *a, const char *peer, uint64_t now)
{
	struct peer_state *p = peer_find(a, peer, 0, now);

	window_roll(a, now);
	if (a->window_fails >= a->cfg.global_per_min)
		return SOTTO_ERR_LIMIT;
	if (p != NULL && now < p->locked_until)
		return SOTTO_ERR_LIMIT;
	return 0;
}

uint64_t
bridge_auth_record(struct bridge_auth *a, const char *peer, int ok, uint64_t now)
{
	struct peer_state *p = peer_find(a, peer, !ok, now);
	unsigned over, shift;
	uint64_t lock;

	if (ok) {
		if (p != NULL)
			p->fails = 0;
		return 0;
	}
	window_roll(a, now);
	a->window_fails++;
	p->fails++;
	p->last_fail = now;
	if (p->fails > a->cfg.free_failures) {
		over = p->fails - a->cfg.free_failures - 1;
		shift = over > 20 ? 20 : over;
		lock = a->cfg.lockout_ms << shift;
		if (lock > a->cfg.lockout_max_ms)
			lock = a->cfg.lockout_max_ms;
		p->locked_until = now + a->cfg.fail_delay_ms + lock;
	}
	return a->cfg.fail_delay_ms;
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

static void
req_work(uv_work_t *w)
{
	struct bridge_auth_req *q = w->data;

	q->result = bridge_auth_verify(q->a->user, q->a->hash, q->user, q->ulen, q->pw, q->pwlen);
	sodium_memzero(q->pw, sizeof(q->pw));
}

static void
req_after(uv_work_t *w, int status)
{
	struct bridge_auth_req *q = w->data;
	uint64_t delay;

	q->a->hashing--;
	sodium_memzero(q->pw, sizeof(q->pw));
	if (status != 0)
		q->result = SOTTO_ERR_INTERNAL;
	delay = bridge_auth_record(q->a, q->peer, q->result == 0, uv_now(q->a->loop));
	if (q->result != 0 && q->result != SOTTO_ERR_AUTH)
		delay = 0;
	uv_timer_start(&q->delay, req_finish, delay, 0);
}

int
bridge_auth_check(struct bridge_auth *a, const char *peer, const uint8_t *user, size_t ulen,
    const uint8_t *pw, size_t pwlen, bridge_auth_cb cb, void *arg, struct bridge_auth_req **req)
{
	struct bridge_auth_req *q;
	int refused = 0;

	*req = NULL;
	if (a->dying)
		return SOTTO_ERR_STATE;
	if (ulen > BRIDGE_USER_MAX || pwlen > BRIDGE_PASSWORD_MAX)
		refused = SOTTO_ERR_AUTH;
	else if (bridge_auth_admit(a, peer, uv_now(a->loop)) != 0 ||
	    a->hashing >= a->cfg.max_inflight)
		refused = SOTTO_ERR_LIMIT;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return SOTTO_ERR_NOMEM;
	q->a = a;
	q->cb = cb;
	q->arg = arg;
	strncpy(q->peer, peer, PEER_LEN - 1);
	uv_timer_init(a->loop, &q->delay);
	q->delay.data = q;
	q->work.data = q;
	a->inflight++;
	*req = q;
	if (refused) {
		/* Answered without hashing; an over-long credential still counts as a failure. */
		q->result = refused;
		uv_timer_start(&q->delay, req_finish, refused == SOTTO_ERR_AUTH ?
		    bridge_auth_record(a, peer, 0, uv_now(a->loop)) : 0, 0);
		return 0;
	}
	memcpy(q->user, user, ulen);
	q->ulen = ulen;
	memcpy(q->pw, pw, pwlen);
	q->pwlen = pwlen;
	a->hashing++;
	if (uv_queue_work(a->loop, &q->work, req_work, req_after) != 0) {
		a->hashing--;
		sodium_memzero(q->pw, sizeof(q->pw));
		q->result = SOTTO_ERR_INTERNAL;
		uv_timer_start(&q->delay, req_finish, 0, 0);
	}
	return 0;
}

void
bridge_auth_cancel(struct bridge_auth_req *req)
{
	if (req != NULL)
		req->cancelled = 1;
}
