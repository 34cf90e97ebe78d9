/*
 * The running server's status (status.h): DIR/sottod.sock answers one JSON object to
 * whoever connects, metrics_listen answers GET /metrics in Prometheus' text format.
 */
#include "server/status.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"
#include "server/server.h"

struct status_client {
	struct status_client *next;
	struct status_client *wait_next;   /* waiting for the next snapshot */
	struct status *st;
	union {
		uv_handle_t h;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} u;
	uv_timer_t timer;
	uv_write_t wr;
	int http;                       /* 1: metrics over HTTP, 0: JSON on the socket */
	int waiting, closing, open_handles;
	size_t got;
	char req[METRICS_REQUEST_MAX];
	char *answer;
};

/* What the worker thread read from the store and the files. */
struct status_db {
	int r;                          /* 0 or the store's error */
	struct store_stats stats;
	uint64_t wal_bytes;
};

struct status {
	struct server *srv;
	uv_pipe_t sock;
	int sock_open;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uv_tcp_t metrics;
	int metrics_open;
	char metrics_addr[CONFIG_HOST_MAX + 16];
	struct status_client *clients, *waiting;
	size_t n_clients;
	int open_listeners;             /* listener handles not yet closed */
	/* The worker: its own store handle (opened on first use), one snapshot at a time. */
	struct server_store *store;
	uv_work_t work;
	int work_busy, stopping;
	struct status_db db;
};

/* ---- taking the figures ---- */

/* Worker thread. */
static void
db_work(uv_work_t *w)
{
	struct status *st = w->data;
	char wal[SERVER_PATH_MAX + 8];
	struct stat sb;

	st->db.r = st->store->ops->stats(st->store, &st->db.stats);
	st->db.wal_bytes = 0;
	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", st->srv->db_path) < sizeof(wal) &&
	    stat(wal, &sb) == 0)
		st->db.wal_bytes = (uint64_t)sb.st_size;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Everything an answer says, taken on the loop when the worker is done. */
struct snapshot {
	const struct status_db *db;
	struct commit_latency lat;      /* us[] sorted */
	uint32_t p50_us, p99_us, max_us;
	uint64_t now, db_bytes, db_max_bytes, used_percent;
	const char *state;
	char degraded[256];             /* "" or the reasons, "; "-separated */
};

static uint32_t
quantile(const struct commit_latency *l, unsigned per_mille)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (l->n * per_mille + 999) / 1000;
	return l->us[i > 0 ? i - 1 : 0];
}

static void
degraded_add(struct snapshot *sn, const char *why)
{
	size_t n = strlen(sn->degraded);

	snprintf(sn->degraded + n, sizeof(sn->degraded) - n, "%s%s", n > 0 ? "; " : "", why);
}

static void
snapshot_take(struct status *st, struct snapshot *sn)
{
	const struct server *s = st->srv;
	char why[96];

	memset(sn, 0, sizeof(*sn));
	sn->db = &st->db;
	sn->now = (uint64_t)time(NULL);
	commit_latency(s->commit, &sn->lat);
	qsort(sn->lat.us, sn->lat.n, sizeof(sn->lat.us[0]), cmp_u32);
	sn->p50_us = quantile(&sn->lat, 500);
	sn->p99_us = quantile(&sn->lat, 990);
	sn->max_us = sn->lat.n > 0 ? sn->lat.us[sn->lat.n - 1] : 0;
	sn->db_bytes = st->db.stats.pages * st->db.stats.page_size;
	sn->db_max_bytes = (uint64_t)s->cfg.db_max_pages * st->db.stats.page_size;
	sn->state = s->draining ? "stopping" : "running";
	if (st->db.r != 0) {
		snprintf(why, sizeof(why), "database unreadable: %s", sotto_strerror(st->db.r));
		degraded_add(sn, why);
	}
	if (s->cfg.db_max_pages > 0 && s->cfg.store[0] == '\0' && st->db.r == 0) {
		sn->used_percent = (st->db.stats.pages - st->db.stats.free_pages) * 100 /
		    s->cfg.db_max_pages;
		if (sn->used_percent >= STATUS_DB_FULL_PERCENT) {
			snprintf(why, sizeof(why), "database at %llu%% of db_max_pages",
			    (unsigned long long)sn->used_percent);
			degraded_add(sn, why);
		}
	}
	if (sn->lat.last_failed)
		degraded_add(sn, "the last group commit failed (see the log)");
	if (s->draining)
		degraded_add(sn, "stopping");
}

/* ---- the two formats ---- */

static int
answer_json(struct status *st, const struct snapshot *sn, char *out, size_t cap)
{
	const struct server *s = st->srv;
	const char *m = status_metrics_address(s);
	int n;

	/* Every string here is ours: an address, a state, reasons without quotes. */
	n = snprintf(out, cap, "{\"status\": \"%s\", \"healthy\": %s, \"degraded\": \"%s\","
	    " \"version\": \"%s\", \"pid\": %ld, \"started\": %llu, \"uptime_seconds\": %llu,"
	    " \"address\": \"%s\", \"metrics\": %s%s%s, \"domain\": \"%s\","
	    " \"connections\": %zu, \"connections_accepted\": %llu, \"accounts\": %llu,"
	    " \"envelopes_waiting\": %llu, \"envelope_bytes_waiting\": %llu,"
	    " \"sends_in_flight\": %zu, \"queue_depth\": %llu, \"sends\": %llu,"
	    " \"received\": %llu, \"database_bytes\": %llu, \"database_wal_bytes\": %llu,"
	    " \"database_max_bytes\": %llu, \"database_used_percent\": %llu,"
	    " \"commit_latency_us\": {\"samples\": %zu, \"p50\": %u, \"p99\": %u, \"max\": %u},"
	    " \"group_commits\": %llu, \"group_commits_failed\": %llu}\n",
	    sn->state, sn->degraded[0] == '\0' ? "true" : "false", sn->degraded, SOTTO_VERSION,
	    (long)getpid(), (unsigned long long)s->started,
	    (unsigned long long)(sn->now - s->started), s->bound_addr, m ? "\"" : "",
	    m ? m : "null", m ? "\"" : "", s->cfg.domain, s->n_peers,
	    (unsigned long long)s->counters.accepted,
	    (unsigned long long)sn->db->stats.accounts,
	    (unsigned long long)sn->db->stats.envelopes,
	    (unsigned long long)sn->db->stats.envelope_bytes, s->mailq_n,
	    (unsigned long long)(sn->db->stats.envelopes + s->mailq_n),
	    (unsigned long long)s->counters.sends, (unsigned long long)s->counters.received,
	    (unsigned long long)sn->db_bytes, (unsigned long long)sn->db->wal_bytes,
	    (unsigned long long)sn->db_max_bytes, (unsigned long long)sn->used_percent,
	    sn->lat.n, sn->p50_us, sn->p99_us, sn->max_us,
	    (unsigned long long)sn->lat.total, (unsigned long long)sn->lat.failed);
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* One metric: its HELP and TYPE lines and one sample. */
static size_t
metric(char *out, size_t cap, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	int n = snprintf(out, cap, "# HELP sottod_%s %s\n# TYPE sottod_%s %s\nsottod_%s %llu\n",
	    name, help, name, type, name, v);

	return n > 0 && (size_t)n < cap ? (size_t)n : cap;
}

static int
answer_metrics(struct status *st, const struct snapshot *sn, char *out, size_t cap)
{
	const struct server *s = st->srv;
	char body[STATUS_ANSWER_MAX - 256];
	size_t n = 0;
	int h;

#define M(name, type, help, v) \
	n += metric(body + n, sizeof(body) - n, name, type, help, (unsigned long long)(v))
	h = snprintf(body, sizeof(body), "# HELP sottod_info The server's version.\n"
	    "# TYPE sottod_info gauge\nsottod_info{version=\"%s\"} 1\n", SOTTO_VERSION);
	n = h > 0 ? (size_t)h : 0;
	M("healthy", "gauge", "1 when sottod status would exit 0, 0 when degraded.",
	    sn->degraded[0] == '\0');
	M("start_time_seconds", "gauge", "Start time, seconds since the epoch.", s->started);
	M("connections", "gauge", "Open client connections.", s->n_peers);
	M("connections_accepted_total", "counter", "Client connections accepted.",
	    s->counters.accepted);
	M("accounts", "gauge", "Registered accounts.", sn->db->stats.accounts);
	M("envelopes_waiting", "gauge", "Envelopes stored for their recipients.",
	    sn->db->stats.envelopes);
	M("envelope_bytes_waiting", "gauge", "Bytes of the envelopes stored.",
	    sn->db->stats.envelope_bytes);
	M("sends_in_flight", "gauge", "SENDs taken and not yet committed or acknowledged.",
	    s->mailq_n);
	M("sends_total", "counter", "SENDs taken.", s->counters.sends);
	M("received_total", "counter", "Envelopes acknowledged by their recipients.",
	    s->counters.received);
	M("database_bytes", "gauge", "Size of the database file.", sn->db_bytes);
	M("database_wal_bytes", "gauge", "Size of the database's write-ahead log.",
	    sn->db->wal_bytes);
	M("database_max_bytes", "gauge", "The database's cap (db_max_pages); 0: none.",
	    sn->db_max_bytes);
	M("group_commit_failures_total", "counter", "Group commits that failed.",
	    sn->lat.failed);
#undef M
	h = snprintf(body + n, sizeof(body) - n,
	    "# HELP sottod_group_commit_seconds Group commits of SENDs and RECEIVED deletes "
	    "(the transaction and its fsync); quantiles of the last %d.\n"
	    "# TYPE sottod_group_commit_seconds summary\n"
	    "sottod_group_commit_seconds{quantile=\"0.5\"} %.6f\n"
	    "sottod_group_commit_seconds{quantile=\"0.99\"} %.6f\n"
	    "sottod_group_commit_seconds_sum %.6f\n"
	    "sottod_group_commit_seconds_count %llu\n", COMMIT_LATENCY_KEPT,
	    sn->p50_us / 1e6, sn->p99_us / 1e6, sn->lat.sum_seconds,
	    (unsigned long long)sn->lat.total);
	if (h < 0 || (size_t)h >= sizeof(body) - n)
		return -1;
	n += (size_t)h;
	h = snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", n, body);
	return h > 0 && (size_t)h < cap ? h : -1;
}

/* ---- clients ---- */

/* After status_stop: freed once no handle, client or worker refers to it any more. */
static void
maybe_free(struct status *st)
{
	if (!st->stopping || st->n_clients > 0 || st->work_busy || st->open_listeners > 0)
		return;
	server_store_close(st->store);
	free(st);
}

static void
client_closed(uv_handle_t *h)
{
	struct status_client *c = h->data;
	struct status *st = c->st;

	if (--c->open_handles > 0)
		return;
	for (struct status_client **pp = &st->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	st->n_clients--;
	free(c->answer);
	free(c);
	maybe_free(st);
}

static void
listener_closed(uv_handle_t *h)
{
	struct status *st = h->data;

	st->open_listeners--;
	maybe_free(st);
}

static void
client_close(struct status_client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->waiting)
		for (struct status_client **pp = &c->st->waiting; *pp; pp = &(*pp)->wait_next)
			if (*pp == c) {
				*pp = c->wait_next;
				break;
			}
	c->waiting = 0;
	uv_close(&c->u.h, client_closed);
	uv_close((uv_handle_t *)&c->timer, client_closed);
}

static void
on_written(uv_write_t *w, int status)
{
	(void)status;
	client_close(w->data);
}

static void
client_answer(struct status_client *c, const char *text, size_t len)
{
	uv_buf_t b;

	if ((c->answer = malloc(len)) == NULL) {
		client_close(c);
		return;
	}
	memcpy(c->answer, text, len);
	b = uv_buf_init(c->answer, (unsigned)len);
	c->wr.data = c;
	if (uv_write(&c->wr, &c->u.stream, &b, 1, on_written) != 0)
		client_close(c);
}

static void db_done(uv_work_t *w, int status);

/* Queues c for the next snapshot and starts one if none is being taken. */
static void
client_wait(struct status_client *c)
{
	struct status *st = c->st;
	struct store_open_opts o = { 0 };

	c->waiting = 1;
	c->wait_next = st->waiting;
	st->waiting = c;
	if (st->work_busy)
		return;
	if (st->store == NULL) {
		o.cache_kib = 1024;
		o.max_pages = st->srv->cfg.db_max_pages;
		if (store_open_spec(&st->store, st->srv->cfg.store[0] != '\0' ?
		    st->srv->cfg.store : st->srv->db_path, &o) != 0) {
			st->store = NULL;
			st->db.r = SOTTO_ERR_STORAGE;
			db_done(&st->work, 0);
			return;
		}
	}
	if (uv_queue_work(st->srv->loop, &st->work, db_work, db_done) != 0) {
		st->db.r = SOTTO_ERR_INTERNAL;
		db_done(&st->work, 0);
		return;
	}
	st->work_busy = 1;
}

static void
db_done(uv_work_t *w, int status)
{
	struct status *st = w->data;
	struct status_client *c, *next;
	struct snapshot sn;
	char *text;
	int n;

	st->work_busy = 0;
	if (st->stopping) {
		maybe_free(st);
		return;
	}
	if (status != 0)
		st->db.r = SOTTO_ERR_INTERNAL;
	if ((text = malloc(STATUS_ANSWER_MAX)) == NULL)
		return;
	snapshot_take(st, &sn);
	c = st->waiting;
	st->waiting = NULL;
	for (; c != NULL; c = next) {
		next = c->wait_next;
		c->waiting = 0;
		n = c->http ? answer_metrics(st, &sn, text, STATUS_ANSWER_MAX) :
		    answer_json(st, &sn, text, STATUS_ANSWER_MAX);
		if (n < 0)
			client_close(c);
		else
			client_answer(c, text, (size_t)n);
	}
	free(text);
}

static void
on_timeout(uv_timer_t *t)
{
	client_close(t->data);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct status_client *c = h->data;

	(void)hint;
	*b = uv_buf_init(c->req + c->got, (unsigned)(sizeof(c->req) - c->got));
}

/* The request's first line names what is wanted; the headers are only waited for. */
static void
on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
	static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 31\r\nConnection: close\r\n\r\nsottod serves GET /metrics only\n";
	struct status_client *c = h->data;

	(void)b;
	if (n < 0) {
		client_close(c);
		return;
	}
	c->got += (size_t)n;
	if (memmem(c->req, c->got, "\r\n\r\n", 4) == NULL &&
	    memmem(c->req, c->got, "\n\n", 2) == NULL) {
		if (c->got == sizeof(c->req))
			client_close(c);        /* headers longer than any scraper sends */
		return;
	}
	uv_read_stop(h);
	if (c->got >= 13 && (memcmp(c->req, "GET /metrics ", 13) == 0 ||
	    memcmp(c->req, "GET /metrics?", 13) == 0))
		client_wait(c);
	else
		client_answer(c, not_found, sizeof(not_found) - 1);
}

static void
on_client(uv_stream_t *server, int status, int http)
{
	struct status *st = server->data;
	struct status_client *c;

	if (status < 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->st = st;
	c->http = http;
	if (http)
		uv_tcp_init(st->srv->loop, &c->u.tcp);
	else
		uv_pipe_init(st->srv->loop, &c->u.pipe, 0);
	uv_timer_init(st->srv->loop, &c->timer);
	c->u.h.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = st->clients;
	st->clients = c;
	st->n_clients++;
	if (uv_accept(server, &c->u.stream) != 0 || st->n_clients > STATUS_CLIENTS_MAX) {
		client_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, STATUS_TIMEOUT_MS, 0);
	if (!http)
		client_wait(c);
	else if (uv_read_start(&c->u.stream, on_alloc, on_read) != 0)
		client_close(c);
}

static void
on_sock_client(uv_stream_t *server, int status)
{
	on_client(server, status, 0);
}

static void
on_metrics_client(uv_stream_t *server, int status)
{
	on_client(server, status, 1);
}

/* ---- listeners ---- */

/* 1 if a server answers on path. */
static int
socket_answers(const char *path)
{
	struct sockaddr_un sa;
	int fd, ok;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int
sock_start(struct status *st)
{
	const struct server *s = st->srv;
	mode_t old;
	int r;

	if ((size_t)snprintf(st->sock_path, sizeof(st->sock_path), "%s/%s", s->data_dir,
	    STATUS_SOCKET_NAME) >= sizeof(st->sock_path)) {
		log_warn("status: %s is too long a path for %s: `sottod status` and `address` "
		    "cannot reach this server", s->data_dir, STATUS_SOCKET_NAME);
		st->sock_path[0] = '\0';
		return 0;
	}
	if (socket_answers(st->sock_path)) {
		log_error("another sottod is running on %s", s->data_dir);
		return SOTTO_ERR_EXISTS;
	}
	if (unlink(st->sock_path) != 0 && errno != ENOENT) {
		log_error("status: %s: %s", st->sock_path, strerror(errno));
		return SOTTO_ERR_IO;
	}
	uv_pipe_init(s->loop, &st->sock, 0);
	st->sock.data = st;
	st->sock_open = 1;
	st->open_listeners++;
	/* Mode 0600: the server's user only (the data directory is 0700 as well). */
	old = umask(0177);
	r = uv_pipe_bind(&st->sock, st->sock_path);
	umask(old);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&st->sock, 16, on_sock_client);
	if (r != 0) {
		log_error("status: %s: %s", st->sock_path, uv_strerror(r));
		return SOTTO_ERR_IO;
	}
	return 0;
}

static int
metrics_start(struct status *st)
{
	const struct server *s = st->srv;
	const char *host = strcmp(s->cfg.metrics_host, "localhost") == 0 ? "127.0.0.1" :
	    s->cfg.metrics_host;
	struct sockaddr_storage ss;
	int r, len = sizeof(ss), v6;

	if (s->cfg.metrics_host[0] == '\0')
		return 0;
	memset(&ss, 0, sizeof(ss));
	v6 = strchr(host, ':') != NULL;
	if ((v6 ? uv_ip6_addr(host, s->cfg.metrics_port, (struct sockaddr_in6 *)&ss) :
	    uv_ip4_addr(host, s->cfg.metrics_port, (struct sockaddr_in *)&ss)) != 0)
		return SOTTO_ERR_INVALID_ARG;
	uv_tcp_init(s->loop, &st->metrics);
	st->metrics.data = st;
	st->metrics_open = 1;
	st->open_listeners++;
	if ((r = uv_tcp_bind(&st->metrics, (struct sockaddr *)&ss, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&st->metrics, 16, on_metrics_client)) != 0) {
		log_error("metrics: listen on %s:%u: %s", host, s->cfg.metrics_port,
		    uv_strerror(r));
		return SOTTO_ERR_IO;
	}
	uv_tcp_getsockname(&st->metrics, (struct sockaddr *)&ss, &len);
	snprintf(st->metrics_addr, sizeof(st->metrics_addr), v6 ? "[%s]:%u" : "%s:%u", host,
	    ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port));
	log_info("metrics on http://%s/metrics", st->metrics_addr);
	return 0;
}

int
status_start(struct server *s)
{
	struct status *st;
	int r;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return SOTTO_ERR_NOMEM;
	st->srv = s;
	st->work.data = st;
	s->status = st;
	if ((r = sock_start(st)) != 0 || (r = metrics_start(st)) != 0)
		return r;
	return 0;
}

const char *
status_metrics_address(const struct server *s)
{
	return s->status != NULL && s->status->metrics_addr[0] != '\0' ?
	    s->status->metrics_addr : NULL;
}

void
status_stop(struct server *s)
{
	struct status *st = s->status;

	if (st == NULL)
		return;
	s->status = NULL;
	st->stopping = 1;
	for (struct status_client *c = st->clients; c; c = c->next)
		client_close(c);
	if (st->sock_open) {
		uv_close((uv_handle_t *)&st->sock, listener_closed);
		if (st->sock_path[0] != '\0')
			unlink(st->sock_path);
	}
	if (st->metrics_open)
		uv_close((uv_handle_t *)&st->metrics, listener_closed);
	/* A snapshot being taken ends in db_done (cancelled if it has not started). */
	if (st->work_busy)
		(void)uv_cancel((uv_req_t *)&st->work);
	maybe_free(st);
}
