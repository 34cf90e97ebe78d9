/*
 * Wake-ups across several sottod nodes on one PostgreSQL database. Every transaction that
 * stores an envelope NOTIFYs STORE_PG_WAKE_CHANNEL with "ACCOUNT:ENVELOPE" (row ids), one
 * that stores a group entry with "ACCOUNT"; this node LISTENs on a connection of its own,
 * polled by the loop (uv_poll on PQsocket). `sottod accounts reset|delete` NOTIFYs
 * STORE_PG_RESET_CHANNEL: the connections of that account end here
 * (server_accts_revalidate), whichever node or none they are on.
 *
 * An envelope's notification, for an account online here, is queued (w->pend); the
 * notifications of one read of the socket, and those that come while a read of the store
 * is out, are coalesced into one query on the listener's own connection, sent without
 * waiting (libpq's asynchronous calls) and answered when the socket is readable again:
 * the rows of exactly those (account, id) pairs, through the envelopes' primary key. The
 * loop never waits on PostgreSQL for a wake-up. Each account's rows go to
 * mailbox_push_stored, which pushes them at once or, if the connection cannot take them
 * now, restarts its pushes. A group entry's notification restarts the account's pushes
 * (server_acct_restart_pushes: from the start of the mailbox and the group read
 * positions).
 *
 * A restart waits until nothing is in flight on the connection (server_acct_wake; no new
 * push starts meanwhile), so that nothing acknowledged is pushed again, unless the pushes
 * made no progress for WAKE_RESEND_MS. What is pushed again the client drops as a repeat,
 * as after any reconnect.
 *
 * PostgreSQL delivers every committed notification to a session that LISTENs; those sent
 * while the listener's connection is lost are gone: every WAKE_RESCAN_MS a lost
 * connection is opened again, and then the pushes of every online account are restarted
 * and every connection's account checked, so a lost notification delays a delivery by at
 * most that long and loses nothing. The same holds for a batched read that fails or is
 * lost with the connection: its accounts' pushes restart.
 *
 * A listener cut off without an error (a network partition) is found by TCP keepalives
 * (WAKE_KEEPALIVE_*: within 16 s), then handled as a lost one.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "server/log.h"
#include "server/store_pg_int.h"

/* libpq's TCP keepalives on the listener's connection, in seconds and probes (ignored on a
 * Unix socket): a silent peer is found after IDLE + INTERVAL * COUNT. */
#define WAKE_KEEPALIVE_IDLE "10"
#define WAKE_KEEPALIVE_INTERVAL "2"
#define WAKE_KEEPALIVE_COUNT "3"

/* Envelopes named in one batched read; more wait for the next. */
#define WAKE_BATCH_MAX 1024
/* Envelopes queued for a read at most; past that an account's pushes restart instead (a
 * bound on memory when PostgreSQL answers slower than the other nodes store). */
#define WAKE_PENDING_MAX 65536
/* Rows handed to mailbox_push_stored at a time. */
#define WAKE_PUSH_PART 64
/* A decimal int64 and its separator. */
#define WAKE_ID_CHARS 21

/* The envelopes of the pairs (unnest of two arrays of equal length), by primary key. */
static const char wake_read_sql[] =
	"SELECT e.recipient, e.id, e.ts, e.data FROM envelopes e"
	" JOIN unnest($1::bigint[], $2::bigint[]) AS w(r, i) ON e.id = w.i AND e.recipient = w.r"
	" ORDER BY e.recipient, e.id";

struct wake_env {
	int64_t account, id;
};

struct wake {
	struct server *srv;
	PGconn *conn;                   /* NULL while lost: opened again by the re-scan */
	uv_poll_t poll;
	int polling;
	uv_timer_t rescan;
	int own_pid[2];                 /* this node's store connections: their NOTIFYs are
	                                 * delivered here already */
	char app_name[32];              /* "sottod wake PID" in pg_stat_activity */
	int stopping;                   /* wake_stop: handles left to close before free */
	uint64_t received, rescans;
	struct wake_env *pend;          /* notified, not yet read */
	size_t n_pend, cap_pend;
	struct wake_env *batch;         /* the read out on conn, WAKE_BATCH_MAX */
	size_t n_batch;                 /* 0: no read out */
	int want_write;                 /* the query is not all sent: poll for writable too */
	char *arr[2];                   /* the read's two array parameters */
	uint64_t reads;
};

static void on_poll(uv_poll_t *h, int status, int events);

static void
wake_account(struct server *s, int64_t id)
{
	struct acct *a = server_acct_find(s, id);

	if (a != NULL && a->peers != NULL && a->peers->state == PEER_MEMBER) {
		log_debug("wake: account %lld", (long long)id);
		server_acct_wake(a->peers, 0);
	}
}

/* The accounts of a batch or of what is queued restart their pushes: what was notified
 * for them is read from the store again that way. */
static void
wake_all(struct server *s, const struct wake_env *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (i == 0 || e[i].account != e[i - 1].account)
			wake_account(s, e[i].account);
}

static void
closed_one(struct wake *w)
{
	if (w->stopping > 0 && --w->stopping == 0) {
		free(w->pend);
		free(w->batch);
		free(w->arr[0]);
		free(w->arr[1]);
		free(w);
	}
}

static void
on_poll_closed(uv_handle_t *h)
{
	struct wake *w = h->data;

	PQfinish(w->conn);
	w->conn = NULL;
	closed_one(w);
}

static void
on_timer_closed(uv_handle_t *h)
{
	closed_one(h->data);
}

/* Stops polling and closes the connection (once the poll handle is closed). */
static void
listen_close(struct wake *w)
{
	if (w->polling) {
		w->polling = 0;
		uv_poll_stop(&w->poll);
		uv_close((uv_handle_t *)&w->poll, on_poll_closed);
		return;
	}
	PQfinish(w->conn);
	w->conn = NULL;
	closed_one(w);
}

/* The relisten restarts every account's pushes: what was queued or out is dropped. */
static void
lose(struct wake *w, const char *why)
{
	log_warn("wake listener: %s: re-scan every %u ms until it is back", why,
	    (unsigned)WAKE_RESCAN_MS);
	w->n_pend = 0;
	w->n_batch = 0;
	w->want_write = 0;
	listen_close(w);
}

static void
poll_events(struct wake *w)
{
	uv_poll_start(&w->poll, UV_READABLE | (w->want_write ? UV_WRITABLE : 0), on_poll);
}

/* Queues the envelope of a notification for the next read, if its account is online
 * here; with too many queued, that account's pushes restart instead. */
static void
pend_add(struct wake *w, int64_t account, int64_t id)
{
	struct acct *a = server_acct_find(w->srv, account);
	struct wake_env *np;
	size_t cap;

	if (a == NULL || a->peers == NULL || a->peers->state != PEER_MEMBER)
		return;
	log_debug("wake: account %lld, envelope %lld", (long long)account, (long long)id);
	if (w->n_pend == w->cap_pend) {
		cap = w->cap_pend ? 2 * w->cap_pend : 64;
		if (cap > WAKE_PENDING_MAX || (np = realloc(w->pend, cap * sizeof(*np))) == NULL) {
			wake_account(w->srv, account);
			return;
		}
		w->pend = np;
		w->cap_pend = cap;
	}
	w->pend[w->n_pend].account = account;
	w->pend[w->n_pend].id = id;
	w->n_pend++;
}

static int
env_cmp(const void *a, const void *b)
{
	const struct wake_env *x = a, *y = b;

	if (x->account != y->account)
		return x->account < y->account ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* "{a,b,...}": the accounts (ids 0) or the envelope ids of n envelopes, into out. */
static void
array_text(char *out, const struct wake_env *e, size_t n, int ids)
{
	char *o = out;

	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s%lld", i ? "," : "", (long long)(ids ? e[i].id : e[i].account));
	*o++ = '}';
	*o = '\0';
}

/* Sends one read for up to WAKE_BATCH_MAX queued envelopes, if none is out. */
static void
read_start(struct wake *w)
{
	const char *vals[2];
	size_t n = w->n_pend < WAKE_BATCH_MAX ? w->n_pend : WAKE_BATCH_MAX;
	int f;

	if (!w->polling || w->n_batch > 0 || n == 0)
		return;
	memcpy(w->batch, w->pend, n * sizeof(*w->batch));
	memmove(w->pend, w->pend + n, (w->n_pend - n) * sizeof(*w->pend));
	w->n_pend -= n;
	qsort(w->batch, n, sizeof(*w->batch), env_cmp);
	array_text(w->arr[0], w->batch, n, 0);
	array_text(w->arr[1], w->batch, n, 1);
	vals[0] = w->arr[0];
	vals[1] = w->arr[1];
	w->n_batch = n;
	w->reads++;
	/* Results in binary: bigints as 8 bytes, the envelope as its bytes. */
	if (PQsendQueryParams(w->conn, wake_read_sql, 2, NULL, vals, NULL, NULL, 1) == 0 ||
	    (f = PQflush(w->conn)) < 0) {
		log_warn("wake: batched read: %s", PQerrorMessage(w->conn));
		wake_all(w->srv, w->batch, n);
		lose(w, "cannot send a read");
		return;
	}
	w->want_write = f == 1;
	if (w->want_write)
		poll_events(w);
}

/* The rows of one account (res rows [from, to)) go to its pushing connection, found
 * again for each part: a push may end a connection. */
static void
deliver_rows(struct wake *w, PGresult *res, int from, int to)
{
	struct store_envelope env[WAKE_PUSH_PART];
	int64_t account = pgs_int(res, from, 0);
	struct acct *a;
	int n;

	while (from < to) {
		a = server_acct_find(w->srv, account);
		if (a == NULL || a->peers == NULL || a->peers->state != PEER_MEMBER)
			return;
		n = to - from < WAKE_PUSH_PART ? to - from : WAKE_PUSH_PART;
		for (int i = 0; i < n; i++) {
			env[i].id = pgs_int(res, from + i, 1);
			env[i].ts = (uint64_t)pgs_int(res, from + i, 2);
			env[i].data = (uint8_t *)PQgetvalue(res, from + i, 3);
			env[i].len = (size_t)PQgetlength(res, from + i, 3);
		}
		mailbox_push_stored(a->peers, env, (size_t)n);
		from += n;
	}
}

/* The answer to the read out: its rows pushed, or on an error its accounts restarted. */
static void
read_done(struct wake *w, PGresult *res)
{
	int n, from = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 4) {
		log_warn("wake: batched read: %s", PQresultErrorMessage(res));
		wake_all(w->srv, w->batch, w->n_batch);
		return;
	}
	n = PQntuples(res);
	for (int i = 1; i <= n; i++)
		if (i == n || pgs_int(res, i, 0) != pgs_int(res, from, 0)) {
			deliver_rows(w, res, from, i);
			from = i;
		}
}

/* Takes what has come of the read out; 0, or -1 if the connection was lost. */
static int
read_poll(struct wake *w)
{
	PGresult *res;

	while (w->n_batch > 0 && w->conn != NULL && !PQisBusy(w->conn)) {
		if ((res = PQgetResult(w->conn)) == NULL) {
			w->n_batch = 0;         /* the read is complete */
			break;
		}
		read_done(w, res);
		PQclear(res);
		/* A push may have ended the server's drain; the listener stays. */
	}
	return w->conn != NULL && PQstatus(w->conn) == CONNECTION_OK ? 0 : -1;
}

static void
on_notify(struct wake *w, const PGnotify *n)
{
	char *end;
	long long id, env = 0;

	w->received++;
	id = strtoll(n->extra, &end, 10);
	if (*end == ':')
		env = strtoll(end + 1, &end, 10);
	if (*end != '\0' || id <= 0 || env < 0)
		return;
	if (strcmp(n->relname, STORE_PG_RESET_CHANNEL) == 0)
		server_accts_revalidate(w->srv, (int64_t)id);
	else if (n->be_pid == w->own_pid[0] || n->be_pid == w->own_pid[1])
		;               /* stored by this node: pushed by it already */
	else if (env > 0)
		pend_add(w, (int64_t)id, (int64_t)env);
	else
		wake_account(w->srv, (int64_t)id);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct wake *w = h->data;
	PGnotify *n;
	int f;

	if (status < 0) {
		lose(w, uv_strerror(status));
		return;
	}
	if ((events & UV_WRITABLE) && w->want_write) {
		if ((f = PQflush(w->conn)) < 0) {
			wake_all(w->srv, w->batch, w->n_batch);
			lose(w, PQerrorMessage(w->conn));
			return;
		}
		if (f == 0) {
			w->want_write = 0;
			poll_events(w);
		}
	}
	if (!(events & UV_READABLE))
		return;
	if (PQconsumeInput(w->conn) == 0 || PQstatus(w->conn) != CONNECTION_OK) {
		wake_all(w->srv, w->batch, w->n_batch);
		lose(w, PQerrorMessage(w->conn));
		return;
	}
	if (read_poll(w) != 0) {
		lose(w, "connection lost");
		return;
	}
	while ((n = PQnotifies(w->conn)) != NULL) {
		on_notify(w, n);
		PQfreemem(n);
	}
	read_start(w);
}

/* Opens the listener connection and LISTENs; blocks the loop for one connect. */
static int
listen_open(struct wake *w)
{
	const char *const keys[] = { "dbname", "application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count", NULL };
	const char *vals[] = { w->srv->cfg.store, w->app_name, "1", WAKE_KEEPALIVE_IDLE,
		WAKE_KEEPALIVE_INTERVAL, WAKE_KEEPALIVE_COUNT, NULL };
	PGresult *res;
	int ok;

	/* dbname expanded: the configured URI, with a name an administrator can find. */
	w->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(w->conn) != CONNECTION_OK) {
		lose(w, "cannot connect");
		return SOTTO_ERR_IO;
	}
	res = PQexec(w->conn, "LISTEN " STORE_PG_WAKE_CHANNEL "; LISTEN " STORE_PG_RESET_CHANNEL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok || PQsetnonblocking(w->conn, 1) != 0 ||
	    uv_poll_init(w->srv->loop, &w->poll, PQsocket(w->conn)) != 0) {
		lose(w, "cannot listen");
		return SOTTO_ERR_IO;
	}
	w->poll.data = w;
	w->polling = 1;
	w->want_write = 0;
	poll_events(w);
	log_info("wake listener: listening on " STORE_PG_WAKE_CHANNEL);
	return 0;
}

static void
on_rescan(uv_timer_t *t)
{
	struct wake *w = t->data;
	struct server *s = w->srv;
	int relisten = 0;

	if (s->draining)
		return;
	w->rescans++;
	/* Notifications sent while it was lost are gone: every connection's account is checked
	 * (for a reset) and its pushes restarted (for what was stored). While the listener's
	 * connection lives, PostgreSQL delivers every notification committed: nothing to read. */
	if (w->conn == NULL && listen_open(w) == 0) {
		server_accts_revalidate(s, 0);
		relisten = 1;
	}
	/* A restart waits for what is in flight (no new push starts meanwhile): only a push
	 * unacknowledged for WAKE_RESEND_MS is pushed again (the client drops what it has). */
	for (size_t i = 0; i < s->n_acct_slots; i++)
		for (struct acct *a = s->accts[i]; a; a = a->next) {
			struct peer *p = a->peers;

			if (p == NULL || p->state != PEER_MEMBER)
				continue;
			if (relisten)
				server_acct_wake(p, 0);
			else if (p->wake_due && server_push_stalled(p))
				server_acct_wake(p, 1);
		}
}

int
wake_start(struct server *s, int pid_reader, int pid_writer)
{
	struct wake *w;

	if (s->cfg.store[0] == '\0')
		return 0;               /* SQLite: one node, nothing to hear */
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((w->batch = calloc(WAKE_BATCH_MAX, sizeof(*w->batch))) == NULL ||
	    (w->arr[0] = malloc(WAKE_BATCH_MAX * WAKE_ID_CHARS + 3)) == NULL ||
	    (w->arr[1] = malloc(WAKE_BATCH_MAX * WAKE_ID_CHARS + 3)) == NULL) {
		free(w->batch);
		free(w->arr[0]);
		free(w);
		return SOTTO_ERR_NOMEM;
	}
	w->srv = s;
	w->own_pid[0] = pid_reader;
	w->own_pid[1] = pid_writer;
	snprintf(w->app_name, sizeof(w->app_name), "sottod wake %ld", (long)getpid());
	s->wake = w;
	uv_timer_init(s->loop, &w->rescan);
	w->rescan.data = w;
	uv_timer_start(&w->rescan, on_rescan, WAKE_RESCAN_MS, WAKE_RESCAN_MS);
	uv_unref((uv_handle_t *)&w->rescan);
	/* Not listening yet only delays deliveries until a re-scan opens it. */
	(void)listen_open(w);
	return 0;
}

void
wake_stop(struct server *s)
{
	struct wake *w = s->wake;

	if (w == NULL)
		return;
	s->wake = NULL;
	log_info("wake: %llu notifications, %llu batched reads, %llu envelopes pushed by id,"
	    " %llu restarts", (unsigned long long)w->received, (unsigned long long)w->reads,
	    (unsigned long long)s->counters.wake_pushed,
	    (unsigned long long)s->counters.wake_restarts);
	/* w is freed by whichever of its two handles is closed last. */
	w->stopping = 2;
	listen_close(w);
	uv_close((uv_handle_t *)&w->rescan, on_timer_closed);
}
