#include "bridge/bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "imap/imap_server.h"
#include "bridge/listener.h"
#include "smtp/smtp.h"
#include "sotto/group.h"

#define BRIDGE_RECONNECT_MS 2000
/* How often the loop reads the store's change counter (mailstore_store_refresh) for mail
 * another process filed (`sotto receive`, the daemon's connection): a counter, no scan. */
#define BRIDGE_REFRESH_MS 1000
#define BRIDGE_CONNECT_TIMEOUT_MS 10000
#define BRIDGE_LOOKUP_TIMEOUT_MS 5000   /* RCPT: connecting and asking, each */
#define BRIDGE_RCPT_CACHE 32            /* recipients known to exist, */
#define BRIDGE_RCPT_CACHE_MS 60000      /* for this long */

/* One submitted mail: its recipients' callbacks, filled on the loop thread, the results
 * filled by the client thread. */
struct bridge_slot {
	smtp_deliver_done done;
	void *ctx;
	enum smtp_deliver_result r;
	char reason[SMTP_REASON_MAX];
};

/* One RCPT to check with the server: asked on the loop thread, answered by the client
 * thread. */
struct bridge_lookup {
	char addr[SOTTO_ADDRESS_MAX + 1];
	char group[2 * SOTTO_GROUP_ID_MAX + 1]; /* a group's address: its id; else "" */
	smtp_rcpt_done done;
	void *ctx;
	enum smtp_rcpt_verdict v;
	char reason[SMTP_REASON_MAX];
	struct bridge_lookup *next;
};

struct bridge_rcpt_known {
	char addr[SOTTO_ADDRESS_MAX + 1];
	uint64_t until;                 /* now_ms() */
};

struct bridge_group {
	const struct smtp_mail *mail;
	size_t n, filled;
	struct bridge_slot *slots;
	struct bridge_group *next;
};

struct bridge {
	uv_loop_t *loop;
	struct sotto *s;                /* the client thread's */
	struct mailstore *ms;
	char user[SOTTO_ADDRESS_MAX + 1];
	const char *domain;             /* inside user */
	struct bridge_auth *auth;
	struct smtp_server *smtp;
	struct imap_server *imap;
	uint16_t smtp_port, imap_port;
	struct bridge_group *collecting;        /* loop thread only */
	struct bridge_rcpt_known known[BRIDGE_RCPT_CACHE];      /* loop thread only */

	pthread_t thread;
	int thread_started;
	int wake[2];                    /* pipe: the loop wakes the client thread */
	uv_async_t async;               /* the client thread wakes the loop */
	int async_open;
	uv_timer_t refresh;             /* mail filed by another process (BRIDGE_REFRESH_MS) */
	int refresh_open;

	pthread_mutex_t lock;           /* guards what follows */
	struct bridge_group *todo, *todo_tail;
	struct bridge_group *done, *done_tail;
	struct bridge_lookup *ask, *ask_tail;
	struct bridge_lookup *answered, *answered_tail;
	int stopping;
	int send_only;                  /* set at start */

	/* stopping, on the loop thread */
	int servers_left;
	void (*stop_done)(void *);
	void *stop_arg;
};

/* ---- small helpers ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
group_free(struct bridge_group *g)
{
	if (g == NULL)
		return;
	free(g->slots);
	free(g);
}

static void
queue_push(struct bridge_group **head, struct bridge_group **tail, struct bridge_group *g)
{
	g->next = NULL;
	if (*tail != NULL)
		(*tail)->next = g;
	else
		*head = g;
	*tail = g;
}

static void
wake_thread(struct bridge *b)
{
	ssize_t w;

	do
		w = write(b->wake[1], "x", 1);
	while (w < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full, so the thread is awake anyway */
}

/* Lowercases an address into out; 0 if it has the form name@domain. */
static int
normalise(const char *addr, char out[SOTTO_ADDRESS_MAX + 1], const char **domain)
{
	size_t i, n = strlen(addr);
	const char *at;

	if (n == 0 || n > SOTTO_ADDRESS_MAX)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i <= n; i++)
		out[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ? (char)(addr[i] + 32) : addr[i];
	if ((at = strrchr(out, '@')) == NULL)
		return SOTTO_ERR_MALFORMED;
	*domain = at + 1;
	return 0;
}

/* ---- SMTP backend (loop thread) ---- */

static void
lookup_push(struct bridge_lookup **head, struct bridge_lookup **tail, struct bridge_lookup *l)
{
	l->next = NULL;
	if (*tail != NULL)
		(*tail)->next = l;
	else
		*head = l;
	*tail = l;
}

/* Recipients the server said exist, for a minute: a mail to several people, or one
 * retried, asks once. Only positive answers are kept, and not for long (an account can go
 * away). */
static int
known_has(struct bridge *b, const char *addr)
{
	uint64_t now = now_ms();
	size_t i;

	for (i = 0; i < BRIDGE_RCPT_CACHE; i++)
		if (b->known[i].until > now && strcmp(b->known[i].addr, addr) == 0)
			return 1;
	return 0;
}

static void
known_add(struct bridge *b, const char *addr)
{
	size_t i, slot = 0;

	for (i = 0; i < BRIDGE_RCPT_CACHE; i++) {
		if (strcmp(b->known[i].addr, addr) == 0) {
			slot = i;
			break;
		}
		if (b->known[i].until < b->known[slot].until)
			slot = i;       /* the oldest (or an empty one) goes */
	}
	memcpy(b->known[slot].addr, addr, strlen(addr) + 1);
	b->known[slot].until = now_ms() + BRIDGE_RCPT_CACHE_MS;
}

static void
be_check_rcpt(void *arg, const char *addr, smtp_rcpt_done done, void *ctx)
{
	struct bridge *b = arg;
	struct bridge_lookup *l;
	char a[SOTTO_ADDRESS_MAX + 1], gid[2 * SOTTO_GROUP_ID_MAX + 1];
	char gdom[SOTTO_ADDRESS_MAX + 1];
	const char *dom;
	int group;

	if (normalise(addr, a, &dom) != 0) {
		done(ctx, SMTP_RCPT_UNKNOWN, "not a valid address");
		return;
	}
	if (strcmp(dom, b->domain) != 0) {
		done(ctx, SMTP_RCPT_NOT_SOTTO, NULL);
		return;
	}
	/* a group's address is checked against our groups, never remembered (we may leave) */
	group = sotto_group_address_parse(a, gid, gdom) == 0;
	if (!group && sotto_address_normalize(addr, a) != 0) {
		done(ctx, SMTP_RCPT_UNKNOWN, "not a valid Sotto address");
		return;
	}
	if (!group && known_has(b, a)) {
		done(ctx, SMTP_RCPT_OK, NULL);
		return;
	}
	/* the server is asked by the client thread, which owns the connection */
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		done(ctx, SMTP_RCPT_TEMPFAIL, "out of memory");
		return;
	}
	memcpy(l->addr, a, strlen(a) + 1);
	if (group)
		memcpy(l->group, gid, strlen(gid) + 1);
	l->done = done;
	l->ctx = ctx;
	pthread_mutex_lock(&b->lock);
	lookup_push(&b->ask, &b->ask_tail, l);
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
}

/* A group that never got all its recipients: each one that did gets its answer. */
static void
drop_collecting(struct bridge *b)
{
	struct bridge_group *g = b->collecting;
	size_t i;

	b->collecting = NULL;
	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		if (g->slots[i].done != NULL)
			g->slots[i].done(g->slots[i].ctx, SMTP_DELIVER_TEMPFAIL, "internal error");
	group_free(g);
}

/* The engine calls this for recipients 0..n-1 in one go; the whole mail goes to the
 * client thread once the last one is in, so Sent gets it after every copy is out. */
static void
be_deliver(void *arg, const struct smtp_mail *mail, size_t rcpt, smtp_deliver_done done,
    void *ctx)
{
	struct bridge *b = arg;
	struct bridge_group *g = b->collecting;

	if (rcpt == 0) {
		/* the engine hands over all recipients at once, so a group left over was cut
		 * short: its recipients still get their answer */
		drop_collecting(b);
		if ((g = calloc(1, sizeof(*g))) == NULL ||
		    (g->slots = calloc(mail->nrcpts, sizeof(*g->slots))) == NULL) {
			free(g);
			done(ctx, SMTP_DELIVER_TEMPFAIL, "out of memory");
			return;
		}
		g->mail = mail;
		g->n = mail->nrcpts;
		b->collecting = g;
	}
	/* a recipient whose mail could not be collected (out of memory at rcpt 0) */
	if (g == NULL || g->mail != mail || rcpt >= g->n || g->slots[rcpt].done != NULL) {
		done(ctx, SMTP_DELIVER_TEMPFAIL, "internal error");
		return;
	}
	g->slots[rcpt].done = done;
	g->slots[rcpt].ctx = ctx;
	if (++g->filled < g->n)
		return;
	b->collecting = NULL;
	pthread_mutex_lock(&b->lock);
	queue_push(&b->todo, &b->todo_tail, g);
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
}

/* Results from the client thread. */
static void
on_async(uv_async_t *h)
{
	struct bridge *b = h->data;
	struct bridge_group *g, *next;
	struct bridge_lookup *l, *lnext;
	size_t i;

	pthread_mutex_lock(&b->lock);
	g = b->done;
	b->done = b->done_tail = NULL;
	l = b->answered;
	b->answered = b->answered_tail = NULL;
	pthread_mutex_unlock(&b->lock);
	mailstore_store_refresh(b->ms);
	for (; l != NULL; l = lnext) {
		lnext = l->next;
		if (l->v == SMTP_RCPT_OK && l->group[0] == '\0')
			known_add(b, l->addr);
		l->done(l->ctx, l->v, l->reason[0] ? l->reason : NULL);
		free(l);
	}
	for (; g != NULL; g = next) {
		next = g->next;
		for (i = 0; i < g->n; i++)
			g->slots[i].done(g->slots[i].ctx, g->slots[i].r,
			    g->slots[i].reason[0] ? g->slots[i].reason : NULL);
		group_free(g);
	}
}

/* Mail another process filed (`sotto receive`, the daemon's own connection) shows up in
 * the store's change counter: IMAP sessions are told (IDLE wakes). */
static void
on_refresh(uv_timer_t *t)
{
	struct bridge *b = t->data;

	mailstore_store_refresh(b->ms);
}

/* ---- client thread: recipients ---- */

/* A group's address: accepted for a group we are a member of, from our own store. */
static void
group_rcpt(struct bridge *b, struct bridge_lookup *l)
{
	struct sotto_group *v = NULL;
	size_t n = 0, i;
	int r;

	if ((r = sotto_groups(b->s, &v, &n)) != 0) {
		l->v = SMTP_RCPT_TEMPFAIL;
		snprintf(l->reason, sizeof(l->reason), "could not read your groups (%s)",
		    sotto_strerror(r));
		return;
	}
	l->v = SMTP_RCPT_UNKNOWN;
	snprintf(l->reason, sizeof(l->reason), "no group of yours has this address (`sotto "
	    "group list` shows them); nothing will be sent to it");
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].id, l->group) != 0)
			continue;
		if (v[i].status == SOTTO_GROUP_MEMBER) {
			l->v = SMTP_RCPT_OK;
			l->reason[0] = '\0';
		} else
			snprintf(l->reason, sizeof(l->reason), "you are no longer a member of this "
			    "group; nothing will be sent to it");
	}
	free(v);
}

/* Answers the RCPT checks asked meanwhile, connecting first if need be (and, beside the
 * daemon's connection, disconnecting afterwards). A recipient that could not be checked
 * is 451, never 250. A group's address needs no connection. Returns 1 if it connected. */
static int
serve_lookups(struct bridge *b)
{
	struct bridge_lookup *head, *tail, *l;
	int connected = 0, cr = 0, tried = 0, r;

	pthread_mutex_lock(&b->lock);
	head = b->ask;
	tail = b->ask_tail;
	b->ask = b->ask_tail = NULL;
	pthread_mutex_unlock(&b->lock);
	if (head == NULL)
		return 0;
	for (l = head; l != NULL; l = l->next) {
		if (l->group[0] != '\0') {
			group_rcpt(b, l);
			continue;
		}
		if (!tried && sotto_fd(b->s) < 0) {
			if ((cr = sotto_connect(b->s, BRIDGE_LOOKUP_TIMEOUT_MS)) == 0)
				connected = 1;
			else
				fprintf(stderr, "sotto bridge: cannot reach %s to check a recipient:"
				    " %s\n", sotto_server(b->s), sotto_strerror(cr));
		}
		tried = 1;
		r = cr != 0 ? cr : sotto_lookup(b->s, l->addr, BRIDGE_LOOKUP_TIMEOUT_MS);
		switch (r) {
		case 0:
			l->v = SMTP_RCPT_OK;
			break;
		case SOTTO_ERR_NOT_FOUND:
		case SOTTO_ERR_UNKNOWN_USER:
			l->v = SMTP_RCPT_UNKNOWN;
			snprintf(l->reason, sizeof(l->reason), "no such user on this Sotto server;"
			    " nothing will be sent to this address");
			break;
		case SOTTO_ERR_OTHER_DOMAIN:
			l->v = SMTP_RCPT_UNKNOWN;
			snprintf(l->reason, sizeof(l->reason), "this Sotto server delivers only to"
			    " addresses of its own domain");
			break;
		case SOTTO_ERR_INVALID_ARG:
		case SOTTO_ERR_BAD_ADDRESS:
		case SOTTO_ERR_MALFORMED:
			l->v = SMTP_RCPT_UNKNOWN;
			snprintf(l->reason, sizeof(l->reason), "not a valid Sotto address");
			break;
		default:
			l->v = SMTP_RCPT_TEMPFAIL;
			snprintf(l->reason, sizeof(l->reason), "could not ask the Sotto server"
			    " whether this user exists (%s)", sotto_strerror(r));
			cr = r;         /* the others would wait for the same failure */
			break;
		}
	}
	pthread_mutex_lock(&b->lock);
	if (b->answered_tail != NULL)
		b->answered_tail->next = head;
	else
		b->answered = head;
	b->answered_tail = tail;
	pthread_mutex_unlock(&b->lock);
	uv_async_send(&b->async);
	if (connected && b->send_only)
		sotto_disconnect(b->s);
	return connected;
}

/* ---- client thread: sending ---- */

static enum smtp_deliver_result
send_copy(struct bridge *b, const char *to, const uint8_t *mail, size_t len, char *reason,
    size_t rcap)
{
	uint8_t msgid[SOTTO_ID_LEN];
	char addr[SOTTO_ADDRESS_MAX + 1], gid[2 * SOTTO_GROUP_ID_MAX + 1];
	char gdom[SOTTO_ADDRESS_MAX + 1];
	const char *dom;
	int r, group;

	if (normalise(to, addr, &dom) != 0) {
		snprintf(reason, rcap, "not a valid address");
		return SMTP_DELIVER_PERMFAIL;
	}
	/* the whole copy: libsotto splits it into parts; a group's address gets one group
	 * message per part, whoever is in the group */
	group = sotto_group_address_parse(addr, gid, gdom) == 0;
	r = group ? sotto_group_send_mail(b->s, gid, mail, len, msgid) :
	    sotto_send_mail(b->s, addr, mail, len, msgid);
	if (group && (r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_STATE)) {
		snprintf(reason, rcap, r == SOTTO_ERR_STATE ? "you are no longer a member of this"
		    " group" : "no group of yours has this address");
		return SMTP_DELIVER_PERMFAIL;
	}
	switch (r) {
	case 0:
		return SMTP_DELIVER_OK;
	case SOTTO_ERR_MESSAGE_TOO_LARGE:
		snprintf(reason, rcap, "message too large");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_NOT_FOUND:
	case SOTTO_ERR_UNKNOWN_USER:
		snprintf(reason, rcap, "no such Sotto user");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_OTHER_DOMAIN:
		snprintf(reason, rcap, "not a domain this Sotto server delivers to");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_UNTRUSTED_IDENTITY:
		snprintf(reason, rcap, "the recipient's key changed after you verified it;"
		    " check it, then run `sotto trust`");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_MALFORMED:
	case SOTTO_ERR_INVALID_ARG:
	case SOTTO_ERR_BAD_ADDRESS:
		snprintf(reason, rcap, "not a valid Sotto address");
		return SMTP_DELIVER_PERMFAIL;
	default:
		snprintf(reason, rcap, "%s", sotto_strerror(r));
		return SMTP_DELIVER_TEMPFAIL;
	}
}

static void
send_group(struct bridge *b, struct bridge_group *g)
{
	const struct smtp_mail *m = g->mail;
	size_t i, ok = 0;
	int r;

	for (i = 0; i < g->n; i++) {
		g->slots[i].r = send_copy(b, m->rcpts[i], m->copy, m->copy_len,
		    g->slots[i].reason, sizeof(g->slots[i].reason));
		if (g->slots[i].r == SMTP_DELIVER_OK)
			ok++;
		(void)serve_lookups(b);         /* other clients' RCPTs wait at most one copy */
	}
	/* Sent holds what the user submitted, Bcc included, once every copy is out. */
	if (ok == g->n && ok > 0) {
		r = b->ms->ops->append(b->ms->impl, "Sent", m->original, m->original_len,
		    MAILSTORE_SEEN, (int64_t)time(NULL), NULL);
		if (r != 0)
			fprintf(stderr, "sotto bridge: could not file the sent mail in Sent: %s\n",
			    sotto_strerror(r));
	}
}

/* ---- client thread ---- */

/* Receiving needs nothing here: libsotto files each mail in INBOX as it stores it
 * (sotto_poll); the loop is told to look at the store (on_async), and IMAP wakes. */
static void *
client_thread(void *arg)
{
	struct bridge *b = arg;
	uint64_t next_connect = 0;
	int r, stopping = 0;

	sotto_set_auto_receipts(b->s, 0);
	while (!stopping) {
		struct pollfd pfd[2];
		struct bridge_group *g;
		int fd = sotto_fd(b->s), nfd = 1, timeout = -1;
		uint64_t now = now_ms();
		char c[64];

		if (serve_lookups(b))
			fd = sotto_fd(b->s);
		if (fd < 0 && now >= next_connect && !b->send_only) {
			if ((r = sotto_connect(b->s, BRIDGE_CONNECT_TIMEOUT_MS)) != 0) {
				fprintf(stderr, "sotto bridge: cannot reach %s: %s\n",
				    sotto_server(b->s), sotto_strerror(r));
				next_connect = now_ms() + BRIDGE_RECONNECT_MS;
			}
			fd = sotto_fd(b->s);
		}
		sotto_close_idle(b->s); /* sotto_poll does it only while connected */
		if (fd >= 0 && (r = sotto_poll(b->s, 0, NULL, NULL)) != 0) {
			if (r > 0)
				uv_async_send(&b->async);       /* new mail: INBOX changed */
			else if (r != SOTTO_ERR_TIMEOUT)
				fprintf(stderr, "sotto bridge: receiving: %s\n", sotto_strerror(r));
		}

		pthread_mutex_lock(&b->lock);
		g = b->todo;
		b->todo = b->todo_tail = NULL;
		stopping = b->stopping;
		pthread_mutex_unlock(&b->lock);
		if (g != NULL) {
			while (g != NULL) {
				struct bridge_group *next = g->next;
				send_group(b, g);
				pthread_mutex_lock(&b->lock);
				queue_push(&b->done, &b->done_tail, g);
				pthread_mutex_unlock(&b->lock);
				uv_async_send(&b->async);
				g = next;
			}
			/* the other connection of the account takes the pushes back (the server
			 * pushes to the newest one) */
			if (b->send_only)
				sotto_disconnect(b->s);
			continue;       /* a send may have read what the server pushed meanwhile */
		}
		if (stopping)
			break;

		fd = sotto_fd(b->s);
		pfd[0].fd = b->wake[0];
		pfd[0].events = POLLIN;
		if (fd >= 0) {
			pfd[1].fd = fd;
			pfd[1].events = POLLIN;
			nfd = 2;
		} else if (!b->send_only) {
			now = now_ms();
			timeout = (int)(next_connect > now ? next_connect - now : 0);
		}
		if (poll(pfd, (nfds_t)nfd, timeout) > 0 && (pfd[0].revents & POLLIN))
			while (read(b->wake[0], c, sizeof(c)) > 0)
				;
	}
	return NULL;
}

/* ---- start and stop ---- */

static void
free_bridge(struct bridge *b)
{
	struct bridge_lookup *l;

	/* none is left once the servers stopped (a session waits for its answer) */
	while ((l = b->ask) != NULL) {
		b->ask = l->next;
		free(l);
	}
	if (b->wake[0] >= 0)
		close(b->wake[0]);
	if (b->wake[1] >= 0)
		close(b->wake[1]);
	bridge_auth_free(b->auth);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void
on_async_closed(uv_handle_t *h)
{
	struct bridge *b = h->data;
	void (*done)(void *) = b->stop_done;
	void *arg = b->stop_arg;

	free_bridge(b);
	if (done != NULL)
		done(arg);
}

static void
server_stopped(void *arg)
{
	struct bridge *b = arg;

	if (--b->servers_left > 0)
		return;
	/* every delivery has reported: the client thread has nothing left to give back */
	pthread_mutex_lock(&b->lock);
	b->stopping = 1;
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
	if (b->thread_started)
		pthread_join(b->thread, NULL);
	b->thread_started = 0;
	on_async(&b->async);
	sotto_close(b->s);
	b->s = NULL;
	if (b->refresh_open) {
		/* closed before the async, whose close callback frees b */
		uv_timer_stop(&b->refresh);
		uv_close((uv_handle_t *)&b->refresh, NULL);
		b->refresh_open = 0;
	}
	uv_close((uv_handle_t *)&b->async, on_async_closed);
}

void
bridge_stop(struct bridge *b, void (*done)(void *), void *arg)
{
	b->stop_done = done;
	b->stop_arg = arg;
	b->servers_left = 2;
	drop_collecting(b);
	smtp_server_stop(b->smtp, server_stopped, b);
	imap_server_stop(b->imap, server_stopped, b);
}

/* Puts p before the text in why (cut to fit). */
static void
prefix(char *why, size_t whylen, const char *p)
{
	char tmp[512];

	if (whylen == 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s%s", p, why);
	snprintf(why, whylen, "%s", tmp);
}

int
bridge_start(struct bridge **out, uv_loop_t *loop, const struct bridge_config *cfg,
    char *why, size_t whylen)
{
	struct bridge *b;
	struct bridge_auth_config ac = cfg->auth;
	struct smtp_config sc;
	struct smtp_backend be;
	struct imap_server_config ic;
	const char *dom;
	int r;

	*out = NULL;
	if (whylen > 0)
		why[0] = '\0';
	if (cfg->sotto == NULL || cfg->ms == NULL || cfg->pw_hash == NULL ||
	    !sotto_registered(cfg->sotto))
		return SOTTO_ERR_INVALID_ARG;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SOTTO_ERR_NOMEM;
	b->wake[0] = b->wake[1] = -1;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b);
		return SOTTO_ERR_NOMEM;
	}
	b->loop = loop;
	b->ms = cfg->ms;
	b->send_only = cfg->send_only;
	if ((r = normalise(sotto_address(cfg->sotto), b->user, &dom)) != 0)
		goto fail;
	b->domain = dom;
	if (pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		r = SOTTO_ERR_IO;
		goto fail;
	}
	ac.user = b->user;
	ac.pw_hash = cfg->pw_hash;
	if ((r = bridge_auth_new(&b->auth, loop, &ac)) != 0)
		goto fail;

	memset(&sc, 0, sizeof(sc));
	sc.user = b->user;
	sc.max_size = cfg->max_size ? cfg->max_size : SOTTO_MAIL_MAX;
	sc.listen.host = cfg->smtp_host;
	sc.listen.port = cfg->smtp_port;
	be.arg = b;
	be.check_rcpt = be_check_rcpt;
	be.deliver = be_deliver;
	if ((r = smtp_server_start(&b->smtp, loop, &sc, &be, b->auth, why, whylen)) != 0) {
		prefix(why, whylen, "SMTP: ");
		goto fail;
	}
	memset(&ic, 0, sizeof(ic));
	ic.host = cfg->imap_host;
	ic.port = cfg->imap_port;
	ic.auth = b->auth;
	ic.imap.literal_max = sc.max_size;
	if ((r = imap_server_start(&b->imap, loop, cfg->ms, &ic, why, whylen)) != 0) {
		prefix(why, whylen, "IMAP: ");
		smtp_server_stop(b->smtp, NULL, NULL);
		goto fail;
	}
	b->smtp_port = smtp_server_port(b->smtp);
	b->imap_port = imap_server_port(b->imap);
	if ((r = uv_async_init(loop, &b->async, on_async)) != 0) {
		r = SOTTO_ERR_INTERNAL;
		goto fail_servers;
	}
	b->async.data = b;
	b->s = cfg->sotto;
	if (pthread_create(&b->thread, NULL, client_thread, b) != 0) {
		b->s = NULL;
		uv_close((uv_handle_t *)&b->async, NULL);
		r = SOTTO_ERR_NOMEM;
		goto fail_servers;
	}
	b->thread_started = 1;
	if (uv_timer_init(loop, &b->refresh) == 0) {
		b->refresh.data = b;
		b->refresh_open = 1;
		(void)uv_timer_start(&b->refresh, on_refresh, BRIDGE_REFRESH_MS,
		    BRIDGE_REFRESH_MS);
	}
	*out = b;
	return 0;
fail_servers:
	smtp_server_stop(b->smtp, NULL, NULL);
	imap_server_stop(b->imap, NULL, NULL);
fail:
	if (whylen > 0 && why[0] == '\0')
		snprintf(why, whylen, "%s", sotto_strerror(r));
	free_bridge(b);
	return r;
}

uint16_t
bridge_smtp_port(const struct bridge *b)
{
	return b->smtp_port;
}

uint16_t
bridge_imap_port(const struct bridge *b)
{
	return b->imap_port;
}

/* ---- the bridge on its own thread ---- */

struct bridge_runner {
	uv_loop_t loop;
	uv_async_t stop_async;
	struct bridge *b;
	struct mailstore ms;
	struct bridge_config cfg;
	char hash[BRIDGE_AUTH_HASH_BYTES];
	char smtp_host[64], imap_host[64];
	int created;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;                      /* 0 starting, 1 running, negative: start failed */
	char why[256];
};

static void
runner_closed(uv_handle_t *h)
{
	(void)h;
}

static void
runner_bridge_stopped(void *arg)
{
	struct bridge_runner *r = arg;

	uv_close((uv_handle_t *)&r->stop_async, runner_closed);
}

static void
runner_on_stop(uv_async_t *h)
{
	struct bridge_runner *r = h->data;

	bridge_stop(r->b, runner_bridge_stopped, r);
}

static void *
runner_thread(void *arg)
{
	struct bridge_runner *r = arg;
	int rc;

	rc = bridge_start(&r->b, &r->loop, &r->cfg, r->why, sizeof(r->why));
	if (rc != 0) {
		sotto_close(r->cfg.sotto);      /* not taken over */
		r->cfg.sotto = NULL;
		uv_close((uv_handle_t *)&r->stop_async, runner_closed);
		uv_run(&r->loop, UV_RUN_DEFAULT);
	}
	pthread_mutex_lock(&r->lock);
	r->state = rc != 0 ? rc : 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (rc == 0)
		uv_run(&r->loop, UV_RUN_DEFAULT);
	return NULL;
}

static void
runner_free(struct bridge_runner *r)
{
	mailstore_destroy(&r->ms);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* The account for the client thread, and the mail folders' own handle of its store:
 * one unlock at most (none with cfg->account), whatever the process does. */
static int
runner_open(const struct bridge_run_config *cfg, struct mailstore *ms, struct sotto **s)
{
	int r;

	*s = NULL;
	r = cfg->account != NULL ? sotto_open_again(cfg->account, s) :
	    sotto_open(s, cfg->home, cfg->pass, cfg->pass_len);
	if (r != 0)
		return r;
	if (!sotto_registered(*s))
		r = SOTTO_ERR_STATE;
	else
		r = mailstore_store_open_account(ms, *s);
	if (r != 0) {
		sotto_close(*s);
		*s = NULL;
	}
	return r;
}

int
bridge_runner_start(struct bridge_runner **out, const struct bridge_run_config *cfg,
    char *why, size_t whylen)
{
	struct bridge_runner *r;
	char pw[BRIDGE_PASSWORD_CHARS + 1];
	struct sotto *s = NULL;
	uint16_t port;
	int rc;

	*out = NULL;
	if (whylen > 0)
		why[0] = '\0';
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (pthread_mutex_init(&r->lock, NULL) != 0 || pthread_cond_init(&r->cond, NULL) != 0) {
		free(r);
		return SOTTO_ERR_NOMEM;
	}
	if (listener_parse_addr(cfg->smtp ? cfg->smtp : SMTP_DEFAULT_LISTEN, r->smtp_host,
	    sizeof(r->smtp_host), &port) != 0) {
		snprintf(why, whylen, "SMTP: not HOST:PORT");
		rc = SOTTO_ERR_INVALID_ARG;
		goto fail;
	}
	r->cfg.smtp_host = r->smtp_host;
	r->cfg.smtp_port = port;
	if (listener_parse_addr(cfg->imap ? cfg->imap : BRIDGE_IMAP_DEFAULT_LISTEN, r->imap_host,
	    sizeof(r->imap_host), &port) != 0) {
		snprintf(why, whylen, "IMAP: not HOST:PORT");
		rc = SOTTO_ERR_INVALID_ARG;
		goto fail;
	}
	r->cfg.imap_host = r->imap_host;
	r->cfg.imap_port = port;
	r->cfg.send_only = cfg->send_only;
	if ((rc = runner_open(cfg, &r->ms, &s)) != 0) {
		snprintf(why, whylen, "%s", sotto_strerror(rc));
		goto fail;
	}
	rc = sotto_bridge_password(s, pw, r->hash, &r->created);
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0) {
		snprintf(why, whylen, "bridge password: %s", sotto_strerror(rc));
		sotto_close(s);
		goto fail;
	}
	r->cfg.sotto = s;
	r->cfg.ms = &r->ms;
	r->cfg.pw_hash = r->hash;
	if (uv_loop_init(&r->loop) != 0) {
		sotto_close(s);
		rc = SOTTO_ERR_INTERNAL;
		goto fail;
	}
	if (uv_async_init(&r->loop, &r->stop_async, runner_on_stop) != 0) {
		(void)uv_loop_close(&r->loop);
		sotto_close(s);
		rc = SOTTO_ERR_INTERNAL;
		goto fail;
	}
	r->stop_async.data = r;
	if (pthread_create(&r->thread, NULL, runner_thread, r) != 0) {
		uv_close((uv_handle_t *)&r->stop_async, runner_closed);
		uv_run(&r->loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&r->loop);
		sotto_close(s);
		rc = SOTTO_ERR_NOMEM;
		goto fail;
	}
	pthread_mutex_lock(&r->lock);
	while (r->state == 0)
		pthread_cond_wait(&r->cond, &r->lock);
	rc = r->state < 0 ? r->state : 0;
	pthread_mutex_unlock(&r->lock);
	if (rc != 0) {
		pthread_join(r->thread, NULL);
		(void)uv_loop_close(&r->loop);
		snprintf(why, whylen, "%s", r->why);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	runner_free(r);
	return rc;
}

uint16_t
bridge_runner_smtp_port(const struct bridge_runner *r)
{
	return bridge_smtp_port(r->b);
}

uint16_t
bridge_runner_imap_port(const struct bridge_runner *r)
{
	return bridge_imap_port(r->b);
}

const char *
bridge_runner_user(const struct bridge_runner *r)
{
	return r->b->user;
}

int
bridge_runner_new_password(const struct bridge_runner *r)
{
	return r->created;
}

void
bridge_runner_stop(struct bridge_runner *r)
{
	if (r == NULL)
		return;
	uv_async_send(&r->stop_async);
	pthread_join(r->thread, NULL);
	(void)uv_loop_close(&r->loop);
	runner_free(r);
}
