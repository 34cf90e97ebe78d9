/*
 * sotto daemon --socket PATH [--smtp HOST:PORT] [--imap HOST:PORT] [--no-bridge]: stays
 * connected and serves JSON-RPC 2.0 on a Unix socket, one JSON object per line in each
 * direction. One thread: a poll() over the listening socket, the clients and the server
 * connection. Beside it the mail bridge runs on threads of its own (bridge_runner,
 * send-only: this connection receives, and libsotto files each mail in INBOX as it stores
 * it).
 *
 * Message notifications come from the history, not from the receive callback: each
 * client has a cursor (the last history row it was sent) and gets every incoming row
 * after it, in row order, whoever stored the row (this connection, or a standalone
 * `sotto bridge` that took the server's pushes). `subscribe {after}` sets the cursor, so
 * a client that reconnects replays what it missed and then continues live with no gap
 * and no duplicate: rows are only ever appended (AUTOINCREMENT). Receipts, timers and
 * warnings are live notices to every client.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bridge/bridge.h"
#include "bridge/listener.h"
#include "smtp/smtp.h"
#include "cli/cli.h"
#include "cli/rpc.h"
#include "cli/passphrase.h"
#include "sotto/group.h"

int cmd_daemon(struct cli *cli, int argc, char **argv);

#define DAEMON_CLIENTS_MAX 32
#define DAEMON_LINE_MAX (256u * 1024)       /* a request line; longer closes the client */
#define DAEMON_RECONNECT_S 2                /* first retry of a lost connection, then x2 */
#define DAEMON_RECONNECT_MAX_S 30
#define DAEMON_FLUSH_S 2                    /* first retry of a queued send, then x2 */
#define DAEMON_FLUSH_MAX_S 60
#define DAEMON_FEED_BATCH 64                /* history rows per client and round */
#define DAEMON_LIVE_MAX 256                 /* received events kept for their warnings */

/* JSON-RPC 2.0 error codes (cli/rpc.h); ours are -32000 + sotto_err (-32001 .. -32030). */

struct client {
	int fd;
	char *in;
	size_t len;
	int started;            /* message notifications start with the first request */
	int64_t cursor;         /* the history row up to which it was sent messages */
};

/* The warnings of a message as the receive callback saw them, which the history does not
 * keep in full (a new contact, the size of a gap). No body: nothing secret is cached. */
struct live_event {
	uint8_t id[SOTTO_ID_LEN];
	unsigned warnings;
	uint64_t gap;
};

struct daemon {
	struct cli *cli;
	struct sotto *s;
	struct bridge_runner *bridge;   /* NULL with --no-bridge or when it failed */
	char bridge_error[256];         /* why it is not running, "" if it is or was not asked */
	const char *smtp, *imap;
	int lfd;
	struct client c[DAEMON_CLIENTS_MAX];
	size_t n;
	time_t next_connect, next_flush;
	unsigned reconnect_s, flush_s;  /* the current backoff */
	struct live_event live[DAEMON_LIVE_MAX];
	size_t live_next;
	char names_buf[SOTTO_GROUP_CHANGE_TEXT_MAX];     /* a group change's names, notifying */
	int refused;                    /* DEVICE_CLONED, ACCOUNT_GONE: the daemon stops */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Escaped as `--json` is (cli_json_dumps): a client that shows a peer's text raw cannot
 * be driven by C1 or bidi controls in it. */
static void
write_line(struct client *c, json_t *j)
{
	char *s = cli_json_dumps(j);
	size_t len, off = 0;
	ssize_t w;

	if (s == NULL || c->fd < 0) {
		free(s);
		return;
	}
	len = strlen(s);
	s[len] = '\n';          /* cli_json_dumps leaves room after its NUL */
	len++;
	while (off < len) {
		w = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };

			if (poll(&p, 1, 5000) <= 0)
				break;
			continue;
		}
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < len) {
		/* A client that does not read is dropped rather than block everyone. */
		close(c->fd);
		c->fd = -1;
	}
	free(s);
}

/* A notification (takes params); c NULL: to every client. */
static void
notify(struct daemon *d, struct client *c, const char *method, json_t *params)
{
	json_t *n = json_object();
	size_t i;

	json_object_set_new(n, "jsonrpc", json_string("2.0"));
	json_object_set_new(n, "method", json_string(method));
	json_object_set_new(n, "params", params);
	if (c != NULL)
		write_line(c, n);
	for (i = 0; c == NULL && i < d->n; i++)
		write_line(&d->c[i], n);
	json_decref(n);
}

/* The newest history row, 0 if there is none. */
static int64_t
newest_row(struct daemon *d)
{
	struct sotto_message *v = NULL;
	size_t n = 0;
	int64_t row = 0;

	if (sotto_history_before(d->s, NULL, 0, 1, &v, &n) == 0 && n == 1)
		row = v[0].row;
	sotto_history_free(v, n);
	return row;
}

static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct daemon *d = ctx;
	struct live_event *le;
	const char *method;
	json_t *params;

	switch (ev->type) {
	case SOTTO_EVENT_MESSAGE: method = "message"; break;
	case SOTTO_EVENT_RECEIPT: method = "receipt"; break;
	case SOTTO_EVENT_TIMER: method = "timer"; break;
	case SOTTO_EVENT_GROUP: method = "group"; break;
	default: method = "warning"; break;
	}
	/* A message or a group's change is stored: it goes out from the history
	 * (feed_clients), with the warnings kept here. The rest is live. */
	if ((ev->type == SOTTO_EVENT_MESSAGE || ev->type == SOTTO_EVENT_GROUP) &&
	    ev->warnings != 0) {
		le = &d->live[d->live_next];
		d->live_next = (d->live_next + 1) % DAEMON_LIVE_MAX;
		memcpy(le->id, ev->id, SOTTO_ID_LEN);
		le->warnings = ev->warnings;
		le->gap = ev->gap;
	}
	if (ev->type != SOTTO_EVENT_MESSAGE && ev->type != SOTTO_EVENT_GROUP &&
	    (params = cli_event_json(ev)) != NULL)
		notify(d, NULL, method, params);
	/* A message with warnings is also a warning notification, for clients that only
	 * watch those. */
	if (ev->type != SOTTO_EVENT_WARNING && ev->warnings != 0)
		notify(d, NULL, "warning", cli_event_json(ev));
}

/* The notification of an incoming history entry, in the form of `receive --json` and with
 * its row; the warnings as the receive callback saw them if it was received here lately.
 * NULL: not shown (a later mail part). */
static json_t *
message_params(struct daemon *d, const struct sotto_message *m)
{
	const char *names[SOTTO_GROUP_ADD_MAX];
	struct sotto_event ev;
	struct sotto_file f;
	json_t *j;
	size_t i;

	memset(&ev, 0, sizeof(ev));
	ev.type = SOTTO_EVENT_MESSAGE;
	if (m->content == SOTTO_CONTENT_GROUP_EVENT) {
		ev.type = SOTTO_EVENT_GROUP;
		ev.change = m->change;
		ev.expiry = m->expiry;
		ev.members = names;
		ev.n_members = sotto_group_change_names(m, d->names_buf, sizeof(d->names_buf),
		    names, SOTTO_GROUP_ADD_MAX);
	}
	ev.peer = m->peer;
	memcpy(ev.id, m->id, SOTTO_ID_LEN);
	ev.time = m->time;
	ev.content = m->content;
	ev.body = m->body;
	ev.body_len = m->body_len;
	ev.expires_at = m->expires_at;
	if (m->group[0] != '\0') {
		ev.group = m->group;
		ev.group_name = m->group_name;
	}
	if (m->flags & SOTTO_MSG_KEY_CHANGED)
		ev.warnings |= SOTTO_WARN_KEY_CHANGED;
	if (m->flags & SOTTO_MSG_GAP_BEFORE)
		ev.warnings |= SOTTO_WARN_GAP;      /* ev.gap 0: the count is not kept */
	for (i = 0; i < DAEMON_LIVE_MAX; i++) {
		if (d->live[i].warnings != 0 && memcmp(d->live[i].id, m->id, SOTTO_ID_LEN) == 0) {
			ev.warnings = d->live[i].warnings;
			ev.gap = d->live[i].gap;
			break;
		}
	}
	if ((j = cli_event_json(&ev)) != NULL)
		json_object_set_new(j, "row", json_integer(m->row));
	/* a file: its name, size and type (and path once fetched: fetch_file) */
	if (j != NULL && m->content == SOTTO_CONTENT_FILE && sotto_file_info(d->s, m->id, &f) == 0)
		cli_file_json_add(j, &f);
	return j;
}

/* Sends each started client the incoming messages after its cursor, at most a batch per
 * client. Returns 1 if a client may have more waiting. */
static int
feed_clients(struct daemon *d)
{
	struct sotto_message *v;
	size_t i, k, n;
	int more = 0;
	json_t *j;

	for (i = 0; i < d->n; i++) {
		struct client *c = &d->c[i];

		if (c->fd < 0 || !c->started)
			continue;
		v = NULL;
		n = 0;
		if (sotto_history(d->s, NULL, c->cursor, DAEMON_FEED_BATCH, &v, &n) != 0)
			continue;       /* the store is busy: next round */
		for (k = 0; k < n && c->fd >= 0; k++) {
			if (v[k].dir == SOTTO_IN && (j = message_params(d, &v[k])) != NULL)
				notify(d, c, v[k].content == SOTTO_CONTENT_GROUP_EVENT ? "group" :
				    "message", j);
			c->cursor = v[k].row;
		}
		if (n == DAEMON_FEED_BATCH)
			more = 1;
		sotto_history_free(v, n);
	}
	return more;
}

static json_t *
sotto_error(int err)
{
	return rpc_error(-32000 + err, sotto_strerror(err));
}

/* Backoff: the next try after *cur seconds, then twice as long up to max. */
static time_t
backoff(unsigned *cur, unsigned max)
{
	time_t at = time(NULL) + *cur;

	*cur = *cur * 2 > max ? max : *cur * 2;
	return at;
}

/* Connecting also sends the outbox, queued first messages included. */
static int
ensure_connected(struct daemon *d)
{
	int r = sotto_connect(d->s, 5000);

	if (r != 0)
		d->next_connect = backoff(&d->reconnect_s, DAEMON_RECONNECT_MAX_S);
	else
		d->reconnect_s = DAEMON_RECONNECT_S;
	/* For good: a copy of the store (retrying would only take the pushes from the real
	 * device's connection each time), or an account the operator removed. Say why. */
	if ((r == SOTTO_ERR_DEVICE_CLONED || r == SOTTO_ERR_ACCOUNT_GONE) && !d->refused) {
		d->refused = r;
		(void)cli_fail(d->cli, "login", r);
		stop = 1;
	}
	return r;
}

/* While connected, what is left in the outbox (a transient refusal) is retried with
 * backoff. */
static void
retry_outbox(struct daemon *d)
{
	int r;

	if (sotto_fd(d->s) < 0 || time(NULL) < d->next_flush)
		return;
	if ((r = sotto_outbox_count(d->s)) > 0)
		r = sotto_flush(d->s, 5000);
	if (r != 0) {
		d->next_flush = backoff(&d->flush_s, DAEMON_FLUSH_MAX_S);
	} else {
		d->flush_s = DAEMON_FLUSH_S;
		d->next_flush = time(NULL) + DAEMON_FLUSH_S;
	}
}

/* The answer to a send: {id, queued}, or NULL and *err for a failure. A queued message
 * waits in the outbox: this daemon sends it when the server takes it. */
static json_t *
sent_result(struct daemon *d, int r, const uint8_t id[SOTTO_ID_LEN], json_t **err)
{
	char hex[2 * SOTTO_ID_LEN + 1];
	json_t *res;

	if (r != 0 && r != SOTTO_ERR_QUEUED) {
		*err = sotto_error(r);
		return NULL;
	}
	if (r == SOTTO_ERR_QUEUED && d->next_flush > time(NULL) + (time_t)d->flush_s)
		d->next_flush = time(NULL) + d->flush_s;
	sotto_id_hex(hex, id);
	res = json_object();
	json_object_set_new(res, "id", json_string(hex));
	json_object_set_new(res, "queued", json_boolean(r == SOTTO_ERR_QUEUED));
	return res;
}

static json_t *
m_send(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *to = rpc_param_str(params, "to"), *body = rpc_param_str(params, "body");
	uint8_t id[SOTTO_ID_LEN];
	json_t *res;
	int r, why;

	if (to == NULL || body == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "send needs to and body (strings)");
		return NULL;
	}
	(void)c;
	/* sending connects if need be (and then sends the outbox first) */
	r = sotto_send_text(d->s, to, body, strlen(body), id);
	if ((res = sent_result(d, r, id, err)) == NULL)
		return NULL;
	if (r == SOTTO_ERR_QUEUED && (why = sotto_queued_reason(d->s)) != 0) {
		/* the same code an error of it would carry, for programs; the text for people */
		json_object_set_new(res, "reason", json_string(sotto_strerror(why)));
		json_object_set_new(res, "reason_code", json_integer(-32000 + why));
	} else if (r == SOTTO_ERR_QUEUED)
		json_object_set_new(res, "reason", json_string("not sent yet: the server was not "
		    "reached, or the message waits behind others"));
	return res;
}

/* Files: send_file, group_send_file, fetch_file, files_pending. A transfer runs to its end
 * inside the request (other clients wait), telling the asking client its progress in
 * "progress" notifications. */
struct daemon_progress {
	struct daemon *d;
	struct client *c;
};

static void
file_progress(void *ctx, const struct sotto_progress *p)
{
	struct daemon_progress *dp = ctx;
	json_t *j = json_object();

	json_object_set_new(j, "direction", json_string(p->dir == SOTTO_UPLOAD ? "upload" :
	    "download"));
	json_object_set_new(j, "name", cli_json_text((const uint8_t *)p->name, strlen(p->name)));
	json_object_set_new(j, "done", json_integer((json_int_t)p->done));
	json_object_set_new(j, "total", json_integer((json_int_t)p->total));
	notify(dp->d, dp->c, "progress", j);
}

static json_t *
m_send_file(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *to = rpc_param_str(params, "to"), *group = rpc_param_str(params, "group");
	const char *path = rpc_param_str(params, "path"), *cap = rpc_param_str(params, "caption");
	struct daemon_progress dp = { d, c };
	uint8_t id[SOTTO_ID_LEN];
	int r;

	if ((to == NULL) == (group == NULL) || path == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "send_file needs path and to, or "
		    "group_send_file group and path (strings)");
		return NULL;
	}
	r = to != NULL ? sotto_send_file(d->s, to, path, cap, cap != NULL ? strlen(cap) : 0,
	    file_progress, &dp, id) : sotto_group_send_file(d->s, group, path, cap,
	    cap != NULL ? strlen(cap) : 0, file_progress, &dp, id);
	return sent_result(d, r, id, err);
}

static int
id_param(json_t *params, uint8_t id[SOTTO_ID_LEN])
{
	const char *hex = rpc_param_str(params, "id");
	size_t n = 0;

	return hex != NULL && strlen(hex) == 2 * SOTTO_ID_LEN &&
	    sodium_hex2bin(id, SOTTO_ID_LEN, hex, strlen(hex), NULL, &n, NULL) == 0 &&
	    n == SOTTO_ID_LEN ? 0 : -1;
}

static json_t *
m_fetch_file(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	struct daemon_progress dp = { d, c };
	const char *dir = rpc_param_str(params, "dir");
	char path[SOTTO_FILE_PATH_MAX];
	uint8_t id[SOTTO_ID_LEN];
	struct sotto_file f;
	json_t *res;
	int r;

	if (id_param(params, id) != 0) {
		*err = rpc_error(RPC_INVALID_PARAMS, "fetch_file needs id (a message id in hex)");
		return NULL;
	}
	if ((r = sotto_file_fetch(d->s, id, dir, file_progress, &dp, path, sizeof(path))) != 0 ||
	    (r = sotto_file_info(d->s, id, &f)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	res = json_object();
	json_object_set_new(res, "id", json_string(rpc_param_str(params, "id")));
	cli_file_json_add(res, &f);
	return res;
}

static json_t *
m_files_pending(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	uint8_t (*ids)[SOTTO_ID_LEN] = NULL;
	char hex[2 * SOTTO_ID_LEN + 1];
	json_t *a;
	size_t n = 0, i;
	int r;

	(void)c;
	(void)params;
	if ((r = sotto_files_pending(d->s, &ids, &n)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	a = json_array();
	for (i = 0; i < n; i++) {
		sotto_id_hex(hex, ids[i]);
		json_array_append_new(a, json_string(hex));
	}
	free(ids);
	return a;
}

static json_t *
m_contacts(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	struct sotto_contact *v = NULL;
	size_t n = 0, i;
	json_t *a;
	int r;

	(void)c;
	(void)params;
	if ((r = sotto_contacts(d->s, &v, &n)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	a = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(a, cli_contact_json(&v[i]));
	sotto_contacts_free(v, n);
	return a;
}

/* confirm is the safety number the user compared (as `sotto verify --confirm`): the mark
 * is bound to it, so a key that changed after the number was shown is not marked. */
static json_t *
m_verify(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *addr = rpc_param_str(params, "address");
	json_t *confirm = json_is_object(params) ? json_object_get(params, "confirm") : NULL;
	char sn[SOTTO_SAFETY_LEN + 1], digits[61];
	struct sotto_contact ct;
	json_t *res;
	int r;

	(void)c;
	if (addr == NULL || (confirm != NULL && !json_is_string(confirm))) {
		*err = rpc_error(RPC_INVALID_PARAMS,
		    "verify needs address, and confirm is the safety number compared (a string)");
		return NULL;
	}
	if ((r = sotto_safety_number(d->s, addr, sn, digits)) != 0 ||
	    (confirm != NULL &&
	    (r = sotto_verify_number(d->s, addr, json_string_value(confirm))) != 0) ||
	    (r = sotto_contact(d->s, addr, &ct)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	res = json_object();
	json_object_set_new(res, "address", json_string(addr));
	json_object_set_new(res, "safety_number", json_string(sn));
	json_object_set_new(res, "digits", json_string(digits));
	json_object_set_new(res, "verified", json_boolean(ct.verified));
	json_object_set_new(res, "trust", json_string(cli_trust_name(ct.trust)));
	return res;
}

static json_t *
m_history(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *addr = rpc_param_str(params, "address");
	json_t *after = json_is_object(params) ? json_object_get(params, "after") : NULL;
	json_t *limit = json_is_object(params) ? json_object_get(params, "limit") : NULL;
	struct sotto_message *v = NULL;
	size_t n = 0, i, max = 100;
	int64_t a = 0;
	json_t *arr;
	int r;

	(void)c;
	if ((after != NULL && !json_is_integer(after)) || (limit != NULL &&
	    (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
	    json_integer_value(limit) > 10000))) {
		*err = rpc_error(RPC_INVALID_PARAMS, "after: integer; limit: 1..10000");
		return NULL;
	}
	if (after != NULL)
		a = json_integer_value(after);
	if (limit != NULL)
		max = (size_t)json_integer_value(limit);
	/* without after: the newest `limit`, as `sotto history` shows them */
	r = after != NULL ? cli_history_fetch(d->s, addr, a, max, &v, &n) :
	    cli_history_last(d->s, addr, max, &v, &n);
	if (r != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	arr = json_array();
	for (i = 0; i < n && json_array_size(arr) < max; i++) {
		json_t *e = cli_history_json(v, n, i);

		if (e != NULL)  /* NULL: a later part of a mail */
			json_array_append_new(arr, e);
	}
	sotto_history_free(v, n);
	return arr;
}

static json_t *
m_trust(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *addr = rpc_param_str(params, "address");
	int r;

	(void)c;
	if (addr == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "trust needs address");
		return NULL;
	}
	if ((r = sotto_trust(d->s, addr)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	return json_true();
}

static json_t *
m_expire(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *addr = rpc_param_str(params, "address");
	json_t *secs = json_is_object(params) ? json_object_get(params, "seconds") : NULL;
	int r;

	(void)c;
	if (addr == NULL || !json_is_integer(secs) || json_integer_value(secs) < 0 ||
	    json_integer_value(secs) > (json_int_t)SOTTO_EXPIRY_MAX) {
		*err = rpc_error(RPC_INVALID_PARAMS, "expire needs address and seconds");
		return NULL;
	}
	if ((r = sotto_set_expiry(d->s, addr, (uint32_t)json_integer_value(secs))) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	return json_true();
}

/* sotto_token_rotate or sotto_block's answer: {queued}, true when the new token waits in
 * the outbox for some contact (SOTTO_ERR_QUEUED, as the CLI's exit 13). */
static json_t *
token_result(int r, json_t **err)
{
	json_t *res;

	if (r != 0 && r != SOTTO_ERR_QUEUED) {
		*err = sotto_error(r);
		return NULL;
	}
	res = json_object();
	json_object_set_new(res, "queued", json_boolean(r == SOTTO_ERR_QUEUED));
	return res;
}

static json_t *
m_token_rotate(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	(void)c;
	(void)params;
	return token_result(sotto_token_rotate(d->s), err);
}

static json_t *
m_block(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *addr = rpc_param_str(params, "address");

	(void)c;
	if (addr == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "block needs address");
		return NULL;
	}
	return token_result(sotto_block(d->s, addr), err);
}

static json_t *
m_read(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *addr = rpc_param_str(params, "address");
	json_t *ids = json_is_object(params) ? json_object_get(params, "ids") : NULL, *v;
	uint8_t (*bin)[SOTTO_ID_LEN] = NULL;
	size_t n, i, blen;
	int r;

	(void)c;
	if (addr == NULL || !json_is_array(ids) || (n = json_array_size(ids)) == 0 ||
	    n > SOTTO_RECEIPT_IDS_MAX || (bin = calloc(n, sizeof(*bin))) == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "read needs address and 1..256 ids");
		return NULL;
	}
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v) || sodium_hex2bin(bin[i], SOTTO_ID_LEN, json_string_value(v),
		    strlen(json_string_value(v)), NULL, &blen, NULL) != 0 || blen != SOTTO_ID_LEN) {
			free(bin);
			*err = rpc_error(RPC_INVALID_PARAMS, "ids are 32 hex digits");
			return NULL;
		}
	}
	r = sotto_send_receipt(d->s, addr, SOTTO_RECEIPT_READ,
	    (const uint8_t (*)[SOTTO_ID_LEN])bin, n);
	free(bin);
	if (r != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	return json_true();
}

/* subscribe {after?}: message notifications from history row `after` on (without it,
 * from now), replayed in order and then live. */
static json_t *
m_subscribe(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	int64_t after, newest = newest_row(d);
	json_t *res;
	int r;

	if ((r = rpc_param_int(params, "after", 0, INT64_MAX, &after)) < 0) {
		*err = rpc_error(RPC_INVALID_PARAMS, "after: a history row, 0 or more");
		return NULL;
	}
	c->cursor = r == 0 ? after : newest;
	c->started = 1;
	res = json_object();
	json_object_set_new(res, "row", json_integer(newest));
	return res;
}

/* status: the account, the connection, the outbox and the mail bridge. */
static json_t *
m_status(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	json_t *res = json_object(), *b = json_object();
	int queued = sotto_outbox_count(d->s);

	(void)c;
	(void)params;
	(void)err;
	json_object_set_new(res, "address", json_string(sotto_address(d->s)));
	json_object_set_new(res, "server", json_string(sotto_server(d->s)));
	json_object_set_new(res, "connected", json_boolean(sotto_fd(d->s) >= 0));
	json_object_set_new(res, "outbox", json_integer(queued > 0 ? queued : 0));
	json_object_set_new(res, "row", json_integer(newest_row(d)));
	/* the store is unlocked once per process: 1 whatever runs beside the daemon */
	json_object_set_new(res, "unlocks", json_integer((json_int_t)sotto_unlock_count()));
	json_object_set_new(b, "running", json_boolean(d->bridge != NULL));
	if (d->smtp != NULL) {
		json_object_set_new(b, "smtp", json_string(d->smtp));
		json_object_set_new(b, "imap", json_string(d->imap));
	}
	if (d->bridge_error[0] != '\0')
		json_object_set_new(b, "error", json_string(d->bridge_error));
	json_object_set_new(res, "bridge", b);
	return res;
}

/* ---- groups: the same as `sotto group` ---- */

/* params' "members": an array of 1..SOTTO_GROUP_ADD_MAX strings into v; 0 or -1. */
static int
members_param(json_t *params, const char **v, size_t *n)
{
	json_t *a = json_is_object(params) ? json_object_get(params, "members") : NULL, *e;
	size_t i;

	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SOTTO_GROUP_ADD_MAX)
		return -1;
	json_array_foreach(a, i, e) {
		if (!json_is_string(e))
			return -1;
		v[i] = json_string_value(e);
	}
	*n = json_array_size(a);
	return 0;
}

static json_t *
m_group_create(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *name = rpc_param_str(params, "name"), *mem[SOTTO_GROUP_ADD_MAX];
	char id[2 * SOTTO_GROUP_ID_MAX + 1];
	json_t *res;
	size_t n;
	int r;

	(void)c;
	if (name == NULL || members_param(params, mem, &n) != 0) {
		*err = rpc_error(RPC_INVALID_PARAMS, "group_create needs name, and members is "
		    "an array of addresses");
		return NULL;
	}
	r = sotto_group_create(d->s, name, mem, n, id);
	if (r != 0 && id[0] == '\0') {
		*err = sotto_error(r);
		return NULL;
	}
	res = json_object();
	json_object_set_new(res, "id", json_string(id));
	/* made, but not everyone could be added: the error with the id */
	if (r != 0) {
		json_object_set_new(res, "error", json_string(sotto_strerror(r)));
		json_object_set_new(res, "error_code", json_integer(-32000 + r));
	}
	return res;
}

/* group_add and group_remove {group, members} */
static json_t *
group_change(struct daemon *d, json_t *params, json_t **err, int add)
{
	const char *g = rpc_param_str(params, "group"), *mem[SOTTO_GROUP_ADD_MAX];
	size_t n;
	int r;

	if (g == NULL || members_param(params, mem, &n) != 0 || n == 0) {
		*err = rpc_error(RPC_INVALID_PARAMS, "needs group (name or id) and members (an "
		    "array of addresses)");
		return NULL;
	}
	r = add ? sotto_group_add(d->s, g, mem, n) : sotto_group_remove(d->s, g, mem, n);
	if (r != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	return json_true();
}

static json_t *
m_group_add(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	(void)c;
	return group_change(d, params, err, 1);
}

static json_t *
m_group_remove(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	(void)c;
	return group_change(d, params, err, 0);
}

static json_t *
m_group_leave(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *g = rpc_param_str(params, "group");
	int r;

	(void)c;
	if (g == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "group_leave needs group");
		return NULL;
	}
	if ((r = sotto_group_leave(d->s, g)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	return json_true();
}

/* group_update {group, name?, seconds?}: renames it and/or sets its timer */
static json_t *
m_group_update(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *g = rpc_param_str(params, "group"), *name = rpc_param_str(params, "name");
	json_t *jn = json_is_object(params) ? json_object_get(params, "name") : NULL;
	int64_t secs = -1;
	int r;

	(void)c;
	if (g == NULL || (jn != NULL && name == NULL) ||
	    rpc_param_int(params, "seconds", 0, SOTTO_EXPIRY_MAX, &secs) < 0) {
		*err = rpc_error(RPC_INVALID_PARAMS, "group_update needs group, and name (a "
		    "string) or seconds (0..31536000)");
		return NULL;
	}
	if ((r = sotto_group_set_info(d->s, g, name, secs)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	return json_true();
}

static json_t *
m_group_send(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *g = rpc_param_str(params, "group"), *body = rpc_param_str(params, "body");
	uint8_t id[SOTTO_ID_LEN];
	char hex[2 * SOTTO_ID_LEN + 1];
	json_t *res;
	int r;

	(void)c;
	if (g == NULL || body == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "group_send needs group and body (strings)");
		return NULL;
	}
	if ((r = sotto_group_send(d->s, g, body, strlen(body), id)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	sotto_id_hex(hex, id);
	res = json_object();
	json_object_set_new(res, "id", json_string(hex));
	return res;
}

static json_t *
m_group_members(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	const char *g = rpc_param_str(params, "group");
	struct sotto_group_member *v = NULL;
	json_t *res;
	size_t n;
	int r;

	(void)c;
	if (g == NULL) {
		*err = rpc_error(RPC_INVALID_PARAMS, "group_members needs group");
		return NULL;
	}
	if ((r = sotto_group_members(d->s, g, &v, &n)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	res = cli_group_members_json(v, n);
	free(v);
	return res;
}

static json_t *
m_groups(struct daemon *d, struct client *c, json_t *params, json_t **err)
{
	struct sotto_group *v = NULL;
	json_t *res;
	size_t n;
	int r;

	(void)c;
	(void)params;
	if ((r = sotto_groups(d->s, &v, &n)) != 0) {
		*err = sotto_error(r);
		return NULL;
	}
	res = cli_groups_json(v, n);
	free(v);
	return res;
}

/* Received messages, while connected; a lost connection is retried later. */
static void
poll_server(struct daemon *d)
{
	int r = sotto_poll(d->s, 0, on_event, d);

	if (r < 0 && sotto_fd(d->s) < 0) {
		fprintf(stderr, "%s: connection lost: %s\n", d->cli->prog, sotto_strerror(r));
		d->reconnect_s = DAEMON_RECONNECT_S;
		d->next_connect = backoff(&d->reconnect_s, DAEMON_RECONNECT_MAX_S);
	}
}

static const struct {
	const char *name;
	json_t *(*fn)(struct daemon *d, struct client *c, json_t *params, json_t **err);
} methods[] = {
	{ "send", m_send },
	{ "subscribe", m_subscribe },
	{ "status", m_status },
	{ "contacts", m_contacts },
	{ "verify", m_verify },
	{ "history", m_history },
	{ "trust", m_trust },
	{ "expire", m_expire },
	{ "token_rotate", m_token_rotate },
	{ "block", m_block },
	{ "read", m_read },
	{ "group_create", m_group_create },
	{ "group_add", m_group_add },
	{ "group_remove", m_group_remove },
	{ "group_leave", m_group_leave },
	{ "group_update", m_group_update },
	{ "group_send", m_group_send },
	{ "group_members", m_group_members },
	{ "groups", m_groups },
	{ "send_file", m_send_file },
	{ "group_send_file", m_send_file },
	{ "fetch_file", m_fetch_file },
	{ "files_pending", m_files_pending },
};

static void
handle_request(struct daemon *d, struct client *c, const char *line, size_t len)
{
	struct rpc_request req;
	json_t *result = NULL, *err = NULL, *resp;
	size_t i;

	/* Message notifications start with the client's first request (from where it
	 * connected, unless that request is subscribe), so none goes out before a subscribe
	 * could set where they start. */
	if (rpc_request_parse(&req, line, len, &err) != 0) {
		c->started = 1;
		goto reply;
	}
	if (strcmp(req.method, "subscribe") != 0)
		c->started = 1;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, req.method) == 0)
			break;
	if (i == sizeof(methods) / sizeof(methods[0])) {
		err = rpc_error(RPC_METHOD_NOT_FOUND, "method not found");
		goto reply;
	}
	result = methods[i].fn(d, c, req.params, &err);
	if (req.id == NULL) {   /* a notification from the client: no answer */
		json_decref(result);
		json_decref(err);
		rpc_request_free(&req);
		return;
	}
reply:
	resp = json_object();
	json_object_set_new(resp, "jsonrpc", json_string("2.0"));
	if (err != NULL)
		json_object_set_new(resp, "error", err);
	else
		json_object_set_new(resp, "result", result != NULL ? result : json_null());
	json_object_set(resp, "id", req.id != NULL ? req.id : json_null());
	write_line(c, resp);
	json_decref(resp);
	rpc_request_free(&req);
}

static void
client_read(struct daemon *d, struct client *c)
{
	char buf[16384], *nl, *p;
	ssize_t n;
	size_t used;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		close(c->fd);
		c->fd = -1;
		return;
	}
	if (c->len + (size_t)n > DAEMON_LINE_MAX || (p = realloc(c->in, c->len + (size_t)n)) == NULL) {
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->in = p;
	memcpy(c->in + c->len, buf, (size_t)n);
	c->len += (size_t)n;
	while (c->fd >= 0 && (nl = memchr(c->in, '\n', c->len)) != NULL) {
		used = (size_t)(nl - c->in) + 1;
		if (used > 1)
			handle_request(d, c, c->in, used - 1);
		memmove(c->in, c->in + used, c->len - used);
		c->len -= used;
	}
}

static void
clients_compact(struct daemon *d)
{
	size_t i, j = 0;

	for (i = 0; i < d->n; i++) {
		if (d->c[i].fd < 0) {
			free(d->c[i].in);
			continue;
		}
		d->c[j++] = d->c[i];
	}
	d->n = j;
}

static int
listen_on(const char *path, int *out)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return SOTTO_ERR_TOO_LARGE;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return SOTTO_ERR_IO;
	(void)unlink(path);     /* a socket left by a daemon that died */
	umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 16) != 0) {
		close(fd);
		return SOTTO_ERR_IO;
	}
	*out = fd;
	return 0;
}

/* The mail bridge beside the daemon; its threads start with SIGINT and SIGTERM blocked,
 * so the signals reach the daemon's poll(). Returns an exit code: a bridge that cannot
 * run (a port in use) is reported in the log and by `status`, and JSON-RPC is served
 * without it; only a wrong setting (an address that is not loopback) stops the daemon. */
static int
start_bridge(struct daemon *d, const char *smtp, const char *imap)
{
	struct bridge_run_config cfg;
	char why[256];
	sigset_t sigs, old;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.account = d->s;     /* its handles are opened from ours: no second unlock */
	cfg.smtp = smtp;
	cfg.imap = imap;
	cfg.send_only = 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	r = bridge_runner_start(&d->bridge, &cfg, why, sizeof(why));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		d->bridge = NULL;
		snprintf(d->bridge_error, sizeof(d->bridge_error), "%s",
		    why[0] ? why : sotto_strerror(r));
		if (r == SOTTO_ERR_AUTH || r == SOTTO_ERR_INVALID_ARG) {
			fprintf(stderr, "%s: cannot start the mail bridge: %s (--no-bridge runs"
			    " without it)\n", d->cli->prog, d->bridge_error);
			return CLI_EXIT_INVALID;
		}
		fprintf(stderr, "%s: the mail bridge is not running: %s; serving JSON-RPC"
		    " without it (the method status reports this; --no-bridge runs without"
		    " it)\n", d->cli->prog, d->bridge_error);
		return CLI_OK;
	}
	if (bridge_runner_new_password(d->bridge))
		cli_printf(stderr, "%s: made a bridge password; `%s bridge --show-password`"
		    " shows it\n", d->cli->prog, cli_self(d->cli));
	fprintf(stderr, "%s: mail bridge: SMTP on %s, IMAP on %s; user name %s\n",
	    d->cli->prog, smtp, imap, bridge_runner_user(d->bridge));
	return CLI_OK;
}

int
cmd_daemon(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "smtp", required_argument, NULL, 'S' },
		{ "imap", required_argument, NULL, 'I' },
		{ "no-bridge", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("daemon");
	struct pollfd pfd[DAEMON_CLIENTS_MAX + 2];
	struct passphrase pp = { 0 };
	struct sigaction sa;
	struct daemon d;
	const char *path = NULL, *smtp = SMTP_DEFAULT_LISTEN;
	const char *imap = BRIDGE_IMAP_DEFAULT_LISTEN;
	char host[64];
	uint16_t port;
	size_t i, np, nc;
	int ch, r, fd, sfd, lock_fd = -1, bridge = 1, more = 0;

	while ((ch = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'S': smtp = optarg; break;
		case 'I': imap = optarg; break;
		case 'n': bridge = 0; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (path == NULL || optind != argc)
		return cli_usage(cli, cmd, "--socket PATH is required");
	if (listener_parse_addr(smtp, host, sizeof(host), &port) != 0)
		return cli_usage(cli, cmd, "--smtp takes HOST:PORT");
	if (listener_parse_addr(imap, host, sizeof(host), &port) != 0)
		return cli_usage(cli, cmd, "--imap takes HOST:PORT");
	memset(&d, 0, sizeof(d));
	d.cli = cli;
	d.reconnect_s = DAEMON_RECONNECT_S;
	d.flush_s = DAEMON_FLUSH_S;
	if (bridge) {
		d.smtp = smtp;
		d.imap = imap;
	}
	if ((r = cli_daemon_lock(cli, &lock_fd)) != CLI_OK)
		return r;
	if ((r = cli_open_keep(cli, &d.s, &pp)) != CLI_OK) {
		close(lock_fd);
		return r;
	}
	if ((r = listen_on(path, &d.lfd)) != 0) {
		passphrase_free(&pp);
		sotto_close(d.s);
		close(lock_fd);
		fprintf(stderr, "%s: cannot listen on %s: %s\n", cli->prog, path, strerror(errno));
		return cli_exit_code(r);
	}
	signal(SIGPIPE, SIG_IGN);
	/* before this connection, so that it is the account's newest: it receives */
	r = bridge ? start_bridge(&d, smtp, imap) : CLI_OK;
	passphrase_free(&pp);
	if (r != CLI_OK) {
		close(d.lfd);
		(void)unlink(path);
		sotto_close(d.s);
		close(lock_fd);
		return r;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((r = ensure_connected(&d)) != 0)
		fprintf(stderr, "%s: cannot reach the server yet (%s); retrying\n", cli->prog,
		    sotto_strerror(r));
	fprintf(stderr, "%s: serving %s on %s\n", cli->prog, sotto_address(d.s), path);
	while (!stop) {
		if (sotto_fd(d.s) < 0 && time(NULL) >= d.next_connect)
			(void)ensure_connected(&d);
		/* Notices queued while a request waited for its answer come first. */
		if (sotto_fd(d.s) >= 0)
			poll_server(&d);
		retry_outbox(&d);
		np = 0;
		pfd[np++] = (struct pollfd){ .fd = d.lfd, .events = POLLIN };
		sfd = sotto_fd(d.s);
		pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		nc = d.n;
		for (i = 0; i < nc; i++)
			pfd[np++] = (struct pollfd){ .fd = d.c[i].fd, .events = POLLIN };
		/* a client still replaying: no wait; else rows that another process (a
		 * standalone bridge) stores are noticed within a second */
		if (poll(pfd, np, more ? 0 : 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* New clients first: a message that arrived together with them reaches them. */
		if (pfd[0].revents & POLLIN) {
			fd = accept4(d.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0 && d.n < DAEMON_CLIENTS_MAX)
				d.c[d.n++] = (struct client){ .fd = fd, .cursor = newest_row(&d) };
			else if (fd >= 0)
				close(fd);
		}
		if (sfd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			poll_server(&d);
		for (i = 0; i < nc; i++)       /* the clients polled, not the one just accepted */
			if (pfd[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
				client_read(&d, &d.c[i]);
		clients_compact(&d);
		if (sotto_fd(d.s) < 0 && sotto_expire(d.s) < 0)
			fprintf(stderr, "%s: expiry sweep failed\n", cli->prog);
		sotto_close_idle(d.s);  /* also while not connected */
		more = feed_clients(&d);
		clients_compact(&d);
	}
	for (i = 0; i < d.n; i++) {
		close(d.c[i].fd);
		free(d.c[i].in);
	}
	close(d.lfd);
	(void)unlink(path);
	bridge_runner_stop(d.bridge);   /* mail handed over is finished first */
	sotto_close(d.s);
	close(lock_fd);
	return d.refused != 0 ? cli_exit_code(d.refused) : CLI_OK;
}
