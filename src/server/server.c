/*
 * The server as a whole: listening, accepting, the table of accounts that are online,
 * signals (SIGHUP reloads the config; SIGTERM and SIGINT drain: stop accepting, finish
 * every commit and its acknowledgement, then close), and shutdown.
 */
#include "server/server.h"

#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "server/log.h"
#include "server/status.h"

uint64_t
server_now_ms(const struct server *s)
{
	return uv_now(s->loop);
}

int
server_local_name(const struct server *s, const char *address, char name[STORE_NAME_MAX + 1])
{
	const char *at = strchr(address, '@');
	size_t n;

	if (at == NULL || strcmp(at + 1, s->cfg.domain) != 0)
		return SOTTO_ERR_OTHER_DOMAIN;
	n = (size_t)(at - address);
	if (n == 0 || n > STORE_NAME_MAX)
		return SOTTO_ERR_MALFORMED;
	memcpy(name, address, n);
	name[n] = '\0';
	return 0;
}

static size_t
acct_slot(const struct server *s, int64_t id)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = (uint64_t)id;

	crypto_shorthash(h, (const uint8_t *)&v, sizeof(v), s->acct_seed);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % s->n_acct_slots);
}

static size_t
name_slot(const struct server *s, const char *name)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	/* Keyed: a client cannot pick names that all land in one chain. */
	crypto_shorthash(h, (const uint8_t *)name, strlen(name), s->acct_seed);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % s->n_acct_slots);
}

/* An online account by name: SEND to it needs no read of the store. */
struct acct *
server_acct_find_name(struct server *s, const char *name)
{
	for (struct acct *a = s->accts_by_name[name_slot(s, name)]; a; a = a->name_next)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct acct *
server_acct_find(struct server *s, int64_t id)
{
	for (struct acct *a = s->accts[acct_slot(s, id)]; a; a = a->next)
		if (a->id == id)
			return a;
	return NULL;
}

struct acct *
server_acct_attach(struct server *s, struct peer *p, const struct store_account *sa)
{
	struct acct *a = server_acct_find(s, sa->id);

	if (a == NULL) {
		size_t k = acct_slot(s, sa->id);
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return NULL;
		a->id = sa->id;
		memcpy(a->name, sa->name, sizeof(a->name));
		memcpy(a->identity_key, sa->identity_key, sizeof(a->identity_key));
		a->has_delivery = sa->has_delivery;
		memcpy(a->delivery, sa->delivery, sizeof(a->delivery));
		ratelimit_bucket_init(&a->bucket, s->cfg.account_burst, server_now_ms(s));
		a->next = s->accts[k];
		s->accts[k] = a;
		k = name_slot(s, a->name);
		a->name_next = s->accts_by_name[k];
		s->accts_by_name[k] = a;
	}
	/* The newest connection of an account receives its pushes. */
	p->acct = a;
	p->acct_next = a->peers;
	a->peers = p;
	return a;
}

void
server_acct_detach(struct server *s, struct peer *p)
{
	struct acct *a = p->acct;
	int was_pusher = a->peers == p;

	for (struct peer **pp = &a->peers; *pp; pp = &(*pp)->acct_next)
		if (*pp == p) {
			*pp = p->acct_next;
			break;
		}
	p->acct = NULL;
	p->acct_next = NULL;
	if (a->peers != NULL) {
		/* The next connection takes over the pushes. */
		if (was_pusher)
			server_acct_restart_pushes(a->peers);
		return;
	}
	for (struct acct **pp = &s->accts[acct_slot(s, a->id)]; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	for (struct acct **pp = &s->accts_by_name[name_slot(s, a->name)]; *pp;
	    pp = &(*pp)->name_next)
		if (*pp == a) {
			*pp = a->name_next;
			break;
		}
	free(a);
}

void
server_acct_restart_pushes(struct peer *p)
{
	p->wake_due = 0;
	p->last_pushed = 0;
	p->push_inflight = 0;
	p->backlog = 1;
	mailbox_pump(p);
	group_push_free(p);
	group_push_start(p);
}

static int
pushes_idle(const struct peer *p)
{
	return p->push_inflight == 0 && group_push_inflight(p) == 0 && p->commits == 0;
}

void
server_acct_wake(struct peer *p, int force)
{
	if (force || pushes_idle(p))
		server_acct_restart_pushes(p);
	else
		p->wake_due = 1;
}

void
server_push_progress(struct peer *p)
{
	p->push_progress_ms = server_now_ms(p->srv);
}

int
server_push_stalled(const struct peer *p)
{
	return !pushes_idle(p) && server_now_ms(p->srv) - p->push_progress_ms >= WAKE_RESEND_MS;
}

void
server_acct_wake_due(struct peer *p)
{
	if (p->wake_due && p->state == PEER_MEMBER && p->acct != NULL && p->acct->peers == p &&
	    pushes_idle(p))
		server_acct_restart_pushes(p);
}

static void
on_flush_check(uv_check_t *h)
{
	peer_flush_all(h->data);
}

static void
on_connection(uv_stream_t *l, int status)
{
	struct server *s = l->data;

	if (status == UV_EMFILE || status == UV_ENFILE) {
		fd_reserve_shed(s);
		return;
	}
	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	s->counters.accepted++;
	peer_accept(s);
}

static void
close_all_peers(struct server *s, const char *why)
{
	while (s->peers != NULL)
		peer_close(s->peers, why);
}

static void
finish(struct server *s)
{
	uv_timer_stop(&s->drain_timer);
	peer_flush_all(s);
	close_all_peers(s, "server shutting down");
	sent_prune_stop(s);
	blob_sweep_stop(s);
	wake_stop(s);
	if (s->commit != NULL) {
		mailbox_flush_held(s);
		commit_stop(s->commit);
		s->commit = NULL;
	}
	mailbox_close(s);
	fd_reserve_close(s);
	status_stop(s);
	uv_close((uv_handle_t *)&s->drain_timer, NULL);
	uv_close((uv_handle_t *)&s->flush_check, NULL);
	uv_close((uv_handle_t *)&s->sig_term, NULL);
	uv_close((uv_handle_t *)&s->sig_int, NULL);
	uv_close((uv_handle_t *)&s->sig_hup, NULL);
	/* Closing the handles restored the default actions: a repeated signal while the
	 * process winds down must not kill it with a non-zero status. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	log_info("stopped");
}

static void
on_drain_tick(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t *left = &s->drain_left_ms;

	size_t unsent = 0;

	for (struct peer *p = s->peers; p; p = p->next)
		unsent += p->tcp.write_queue_size + p->out.len;
	/* Every SEND taken before the signal gets its commit and its acknowledgement. */
	if ((commit_pending(s->commit) == 0 && unsent == 0) || *left == 0) {
		if (commit_pending(s->commit) != 0)
			log_warn("drain timeout with %zu commits pending", commit_pending(s->commit));
		finish(s);
		return;
	}
	*left = *left > 20 ? *left - 20 : 0;
}

static void
begin_drain(struct server *s, const char *signame)
{
	if (s->draining)
		return;
	s->draining = 1;
	mailbox_flush_held(s);
	log_info("%s: draining %zu connections, %zu commits pending", signame, s->n_peers,
	    commit_pending(s->commit));
	if (s->listening) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		s->listening = 0;
	}
	for (struct peer *p = s->peers; p; p = p->next)
		if (p->reading) {
			uv_read_stop((uv_stream_t *)&p->tcp);
			p->reading = 0;
		}
	s->drain_left_ms = s->cfg.drain_timeout_ms;
	uv_timer_start(&s->drain_timer, on_drain_tick, 0, 20);
}

/*
 * `sottod accounts reset|delete` changes the database beside a running server; a reload
 * (SQLite), or the reset's notification (PostgreSQL, wake.c), ends every connection whose
 * device no longer has that account, so that a lost device gets nothing more and SEND no
 * longer finds the old account online.
 */
void
server_accts_revalidate(struct server *s, int64_t only)
{
	struct store_account a;
	struct peer *p, *next;
	int r;

	rcpt_cache_forget(s, only);
	for (p = s->peers; p != NULL; p = next) {
		next = p->next;
		if (p->state != PEER_MEMBER || p->acct == NULL ||
		    (only != 0 && p->acct->id != only))
			continue;
		r = s->store->ops->account_by_device(s->store, p->device_key, &a);
		if (r == SOTTO_ERR_NOT_FOUND || (r == 0 && a.id != p->acct->id))
			peer_close(p, "account reset by the administrator");
	}
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;
	struct config next;
	char why[256] = "";

	if (signum == SIGHUP) {
		server_accts_revalidate(s, 0);
		if (config_build(&next, s->conf_path, s->overrides, why, sizeof(why)) != 0) {
			log_error("reload: %s: keeping the current settings", why);
			return;
		}
		if (strcmp(next.listen_host, s->cfg.listen_host) != 0 ||
		    next.listen_port != s->cfg.listen_port || next.durability != s->cfg.durability ||
		    next.db_max_pages != s->cfg.db_max_pages ||
		    next.db_cache_mib != s->cfg.db_cache_mib ||
		    strcmp(next.metrics_host, s->cfg.metrics_host) != 0 ||
		    next.metrics_port != s->cfg.metrics_port ||
		    strcmp(next.blob_dir, s->cfg.blob_dir) != 0)
			log_warn("reload: listen, advertise, durability, db_max_pages, db_cache_mib, "
			    "metrics_listen and blob_dir apply after a restart");
		if (strcmp(next.domain, s->cfg.domain) != 0)
			log_warn("reload: domain stays %s: the data directory serves that domain",
			    s->cfg.domain);
		strcpy(next.domain, s->cfg.domain);
		strcpy(next.metrics_host, s->cfg.metrics_host);
		next.metrics_port = s->cfg.metrics_port;
		next.listen_port = s->cfg.listen_port;
		strcpy(next.listen_host, s->cfg.listen_host);
		strcpy(next.advertise_host, s->cfg.advertise_host);
		next.advertise_port = s->cfg.advertise_port;
		next.durability = s->cfg.durability;
		next.db_max_pages = s->cfg.db_max_pages;
		next.db_cache_mib = s->cfg.db_cache_mib;
		strcpy(next.blob_dir, s->cfg.blob_dir);
		s->cfg = next;
		commit_set_min_gap(s->commit, s->cfg.commit_gap_us);
		log_set_level(s->cfg.log_level);
		log_info("reload: configuration applied (registration %s)",
		    s->cfg.registration == CONFIG_REG_OPEN ? "open" : "invite");
		return;
	}
	begin_drain(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int
server_init(struct server *s, uv_loop_t *loop, const char *data_dir, const struct config *cfg,
    const struct config_overrides *ov, const uint8_t sk[64])
{
	struct store_open_opts o = { 0 };
	struct server_store *writer = NULL;
	int r, pid_reader = 0, pid_writer = 0;

	memset(s, 0, sizeof(*s));
	s->spare_fd = -1;
	s->loop = loop;
	s->cfg = *cfg;
	s->overrides = ov;
	if ((size_t)snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir) >=
	    sizeof(s->data_dir) ||
	    (size_t)snprintf(s->conf_path, sizeof(s->conf_path), "%s/sottod.conf", data_dir) >=
	    sizeof(s->conf_path) ||
	    (size_t)snprintf(s->db_path, sizeof(s->db_path), "%s/sottod.db", data_dir) >=
	    sizeof(s->db_path))
		return SOTTO_ERR_INVALID_ARG;
	s->started = (uint64_t)time(NULL);
	/* Before the store is opened: refuses to serve a database another sottod serves. */
	if ((r = status_start(s)) != 0)
		return r;
	if ((s->sk = sodium_malloc(64)) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(s->sk, sk, 64);
	crypto_sign_ed25519_sk_to_pk(s->pk, s->sk);
	if ((s->static_kp = sodium_malloc(sizeof(*s->static_kp))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = noise_keypair_from_ed25519(s->static_kp, s->sk)) != 0)
		return r;
	sodium_mprotect_readonly(s->sk);
	sodium_mprotect_readonly(s->static_kp);

	o.create = 0;
	o.durability_full = cfg->durability == CONFIG_DUR_FULL;
	o.max_pages = cfg->db_max_pages;
	o.cache_kib = cfg->db_cache_mib * 1024;
	if ((r = store_open_spec(&s->store, cfg->store[0] != '\0' ? cfg->store : s->db_path,
	    &o)) != 0)
		return r;
	/* A data directory serves the domain it was made for: its accounts are names of it. */
	if ((r = s->store->ops->domain_claim(s->store, cfg->domain, s->recorded_domain)) != 0)
		return r;
	o.checkpoint_thread = 1;
	if ((r = store_open_spec(&writer, cfg->store[0] != '\0' ? cfg->store : s->db_path,
	    &o)) != 0)
		return r;
	if (cfg->store[0] != '\0') {
		pid_reader = store_pg_backend_pid(s->store);
		pid_writer = store_pg_backend_pid(writer);
	}
	if ((r = commit_start(&s->commit, loop, writer, mailbox_commit_done, s)) != 0) {
		server_store_close(writer);
		return r;
	}
	commit_set_min_gap(s->commit, cfg->commit_gap_us);
	s->n_acct_slots = 4096;
	randombytes_buf(s->acct_seed, sizeof(s->acct_seed));
	if ((s->accts = calloc(s->n_acct_slots, sizeof(*s->accts))) == NULL ||
	    (s->accts_by_name = calloc(s->n_acct_slots, sizeof(*s->accts_by_name))) == NULL ||
	    (s->addrs = ratelimit_addrs_new()) == NULL ||
	    (s->sealed_mailboxes = ratelimit_addrs_new()) == NULL ||
	    (s->sealed_groups = ratelimit_addrs_new()) == NULL ||
	    (s->scratch = malloc(FRAME_MAX)) == NULL ||
	    (s->rbuf = malloc(FRAME_MAX + FRAME_HDR_LEN)) == NULL)
		return SOTTO_ERR_NOMEM;
	/* Largest outgoing message: a PUSH with a full envelope, or a certificate. */
	s->encbuf_cap = PROTO_ENVELOPE_MAX + 64;
	if ((s->encbuf = malloc(s->encbuf_cap)) == NULL)
		return SOTTO_ERR_NOMEM;

	uv_timer_init(loop, &s->drain_timer);
	if ((r = fd_reserve_init(s)) != 0)
		return r;
	if ((r = mailbox_init(s)) != 0)
		return r;
	sent_prune_init(s);
	if ((r = blob_init(s)) != 0)
		return r;
	blob_sweep_init(s);
	if ((r = wake_start(s, pid_reader, pid_writer)) != 0)
		return r;
	s->drain_timer.data = s;
	uv_check_init(loop, &s->flush_check);
	s->flush_check.data = s;
	uv_check_start(&s->flush_check, on_flush_check);
	uv_unref((uv_handle_t *)&s->flush_check);
	uv_signal_init(loop, &s->sig_term);
	uv_signal_init(loop, &s->sig_int);
	uv_signal_init(loop, &s->sig_hup);
	s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
	uv_signal_start(&s->sig_term, on_signal, SIGTERM);
	uv_signal_start(&s->sig_int, on_signal, SIGINT);
	uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
	return 0;
}

/* Sets up s->listener on addr; on failure it is set up but not listening (close it). */
static int
bind_listen(struct server *s, const struct sockaddr *addr)
{
	int r;

	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	s->listening = 1;
	if ((r = uv_tcp_bind(&s->listener, addr, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection)) != 0)
		return r;
	return 0;
}

void
server_relisten(struct server *s, uv_close_cb on_fail)
{
	int r;

	if ((r = bind_listen(s, (const struct sockaddr *)&s->listen_addr)) != 0) {
		log_error("listen again on %s: %s", s->bound_addr, uv_strerror(r));
		s->listening = 0;
		uv_close((uv_handle_t *)&s->listener, on_fail);
		return;
	}
	log_info("listening again on %s", s->bound_addr);
}

int
server_listen(struct server *s)
{
	struct sockaddr_storage ss;
	struct address_server as;
	int r, len;

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(s->cfg.listen_host, s->cfg.listen_port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(s->cfg.listen_host, s->cfg.listen_port, (struct sockaddr_in6 *)&ss) != 0) {
		struct addrinfo hints, *ai = NULL;

		/* A host name: its first address (resolved once, at start). */
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		if (getaddrinfo(s->cfg.listen_host, NULL, &hints, &ai) != 0 || ai == NULL ||
		    ai->ai_addrlen > sizeof(ss)) {
			if (ai != NULL)
				freeaddrinfo(ai);
			log_error("listen: cannot resolve %s", s->cfg.listen_host);
			return SOTTO_ERR_INVALID_ARG;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(ai);
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(s->cfg.listen_port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(s->cfg.listen_port);
	}
	if ((r = bind_listen(s, (const struct sockaddr *)&ss)) != 0) {
		log_error("listen on %s:%u: %s", s->cfg.listen_host, s->cfg.listen_port,
		    uv_strerror(r));
		return SOTTO_ERR_IO;
	}
	len = sizeof(ss);
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
	s->listen_addr = ss;
	memset(&as, 0, sizeof(as));
	memcpy(as.key, s->pk, 32);
	config_public(&s->cfg, ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port),
	    as.host, &as.port);
	if (address_server_format(&as, s->bound_addr, sizeof(s->bound_addr)) != 0)
		snprintf(s->bound_addr, sizeof(s->bound_addr), "%s:%u", as.host, as.port);
	log_info("listening on %s (domain %s, registration %s, durability %s)", s->bound_addr,
	    s->cfg.domain, s->cfg.registration == CONFIG_REG_OPEN ? "open" : "invite",
	    s->cfg.durability == CONFIG_DUR_FULL ? "full" : "normal");
	return 0;
}

int
server_run(struct server *s)
{
	uv_run(s->loop, UV_RUN_DEFAULT);
	return s->exit_code;
}

void
server_free(struct server *s)
{
	status_stop(s);
	sent_prune_stop(s);
	blob_sweep_stop(s);
	if (s->commit != NULL) {
		mailbox_flush_held(s);
		commit_stop(s->commit);
		s->commit = NULL;
		uv_run(s->loop, UV_RUN_NOWAIT);
	}
	server_store_close(s->store);
	s->store = NULL;
	free(s->mailq_ids);
	free(s->mailq_keys);
	rcpt_cache_free(s);
	s->mailq_ids = s->mailq_keys = NULL;
	if (s->accts != NULL) {
		for (size_t i = 0; i < s->n_acct_slots; i++)
			for (struct acct *a = s->accts[i], *nx; a; a = nx) {
				nx = a->next;
				free(a);
			}
		free(s->accts);
	}
	free(s->accts_by_name);
	ratelimit_addrs_free(s->addrs);
	ratelimit_addrs_free(s->sealed_mailboxes);
	ratelimit_addrs_free(s->sealed_groups);
	if (s->scratch != NULL)
		sodium_memzero(s->scratch, FRAME_MAX);
	free(s->scratch);
	free(s->blob_buf);
	if (s->rbuf != NULL)
		sodium_memzero(s->rbuf, FRAME_MAX + FRAME_HDR_LEN);
	free(s->rbuf);
	if (s->encbuf != NULL)
		sodium_memzero(s->encbuf, s->encbuf_cap);
	free(s->encbuf);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	s->spare_fd = -1;
	sodium_free(s->ticket);
	s->ticket = NULL;
	sodium_free(s->static_kp);
	s->static_kp = NULL;
	sodium_free(s->sk);
	s->sk = NULL;
}
