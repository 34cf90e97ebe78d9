/*
 * Wake-ups across several sottod nodes on one PostgreSQL database. Every transaction that
 * stores an envelope or a group entry NOTIFYs STORE_PG_WAKE_CHANNEL with the row id of
 * each account it is for; this node LISTENs on a connection of its own, polled by the
 * loop (uv_poll on PQsocket), and restarts the pushes of that account's connection if it
 * is online here. `sottod accounts reset|delete` NOTIFYs STORE_PG_RESET_CHANNEL: the
 * connections of that account end here (server_accts_revalidate), whichever node or none
 * they are on. PostgreSQL delivers every committed notification to a session that
 * LISTENs; those sent while the listener's connection is lost are gone: every
 * WAKE_RESCAN_MS a lost connection is opened again, and then the pushes of every online
 * account are restarted and every connection's account checked, so a lost notification
 * delays a delivery by at most that long and loses nothing.
 *
 * Restarting pushes is what a takeover by an account's next connection does
 * (server_acct_restart_pushes): from the start of the mailbox and the group read
 * positions. It waits until nothing is in flight on the connection (server_acct_wake;
 * no new push starts meanwhile), so that nothing acknowledged is pushed again, unless the
 * pushes made no progress for WAKE_RESEND_MS. Envelope ids come from ranges each node
 * reserves, so one stored through another node may sort below what was pushed here
 * already; reading the mailbox from its start finds it. What is pushed again the client
 * drops as a repeat, as after any reconnect.
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

/* libpq's TCP keepalives on the listener's connection, in seconds and probes (ignored on a
 * Unix socket): a silent peer is found after IDLE + INTERVAL * COUNT. */
#define WAKE_KEEPALIVE_IDLE "10"
#define WAKE_KEEPALIVE_INTERVAL "2"
#define WAKE_KEEPALIVE_COUNT "3"

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
};

static void
wake_account(struct server *s, int64_t id)
{
	struct acct *a = server_acct_find(s, id);

	if (a != NULL && a->peers != NULL && a->peers->state == PEER_MEMBER) {
		log_debug("wake: account %lld", (long long)id);
		server_acct_wake(a->peers, 0);
	}
}

static void
closed_one(struct wake *w)
{
	if (w->stopping > 0 && --w->stopping == 0)
		free(w);
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

static void
lose(struct wake *w, const char *why)
{
	log_warn("wake listener: %s: re-scan every %u ms until it is back", why,
	    (unsigned)WAKE_RESCAN_MS);
	listen_close(w);
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
	struct wake *w = h->data;
	PGnotify *n;
	char *end;
	long long id;

	(void)events;
	if (status < 0 || PQconsumeInput(w->conn) == 0 || PQstatus(w->conn) != CONNECTION_OK) {
		lose(w, status < 0 ? uv_strerror(status) : PQerrorMessage(w->conn));
		return;
	}
	while ((n = PQnotifies(w->conn)) != NULL) {
		w->received++;
		id = strtoll(n->extra, &end, 10);
		if (*end != '\0' || id <= 0)
			;
		else if (strcmp(n->relname, STORE_PG_RESET_CHANNEL) == 0)
			server_accts_revalidate(w->srv, (int64_t)id);
		else if (n->be_pid != w->own_pid[0] && n->be_pid != w->own_pid[1])
			wake_account(w->srv, (int64_t)id);
		PQfreemem(n);
	}
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
	uv_poll_start(&w->poll, UV_READABLE, on_readable);
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
	/* w is freed by whichever of its two handles is closed last. */
	w->stopping = 2;
	listen_close(w);
	uv_close((uv_handle_t *)&w->rescan, on_timer_closed);
}
