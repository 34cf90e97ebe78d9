#include "imap/imap_server.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/listener.h"

/* RFC 3501 5.4: an autologout timer of at least 30 minutes once logged in (clients renew
 * IDLE every 29); a stranger that has not logged in gets far less. */
#define IMAP_IDLE_AUTH_MS (31u * 60 * 1000)
#define IMAP_IDLE_PREAUTH_MS (60u * 1000)

struct imap_conn {
	struct imap_server *srv;
	struct listener_conn *lc;
	struct imap_session *s;
	struct bridge_auth_req *auth_req;       /* a login check in flight */
	struct imap_conn *prev, *next;
};

struct imap_server {
	uv_loop_t *loop;
	struct listener *l;
	struct mailstore *ms;
	struct imap_server_config cfg;
	uv_async_t changed;             /* the store changed, maybe on another thread */
	struct imap_conn *conns;
	void (*done)(void *);
	void *done_arg;
};

static size_t
conn_backlog(void *arg)
{
	struct imap_conn *c = arg;

	return listener_conn_queued(c->lc);
}

static int
conn_write(void *arg, const uint8_t *p, size_t n)
{
	struct imap_conn *c = arg;

	return listener_conn_write(c->lc, p, n);
}

static void
conn_close(void *arg)
{
	struct imap_conn *c = arg;

	listener_conn_close(c->lc);
}

static void
on_login_checked(void *arg, int result)
{
	struct imap_conn *c = arg;

	c->auth_req = NULL;
	imap_session_login_done(c->s, result);
	if (result == 0)
		listener_conn_set_idle(c->lc, IMAP_IDLE_AUTH_MS);
	if (!imap_session_done(c->s))
		listener_conn_resume(c->lc);
}

static int
conn_login(void *arg, const uint8_t *user, size_t ulen, const uint8_t *pass, size_t plen)
{
	struct imap_conn *c = arg;
	int r;

	r = bridge_auth_check(c->srv->cfg.auth, user, ulen, pass, plen,
	    on_login_checked, c, &c->auth_req);
	if (r != 0)
		return r;
	/* no more commands until the answer: the rest of the input waits in the listener */
	listener_conn_pause(c->lc);
	return IMAP_LOGIN_PENDING;
}

static void *
on_open(void *arg, struct listener_conn *lc)
{
	struct imap_server *srv = arg;
	struct imap_conn *c;
	struct imap_host host = { NULL, conn_write, conn_close, conn_login, conn_backlog };

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->srv = srv;
	c->lc = lc;
	host.arg = c;
	if (imap_session_new(&c->s, &srv->cfg.imap, srv->ms, &host) != 0) {
		free(c);
		return NULL;
	}
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	imap_session_start(c->s);
	return c;
}

static size_t
on_read(void *state, const uint8_t *p, size_t n)
{
	struct imap_conn *c = state;

	return imap_session_feed(c->s, p, n);
}

static void
on_closed(void *state, int why)
{
	struct imap_conn *c = state;
	struct imap_server *srv = c->srv;

	(void)why;
	if (c->auth_req != NULL)
		bridge_auth_cancel(c->auth_req);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	imap_session_free(c->s);
	free(c);
}

static void
on_drained(void *state)
{
	struct imap_conn *c = state;

	if (imap_session_drained(c->s))
		listener_conn_resume(c->lc);
}

static const struct listener_ops imap_listener_ops = { on_open, on_read, on_closed };

static void
on_changed(uv_async_t *a)
{
	struct imap_server *srv = a->data;
	struct imap_conn *c, *next;

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		imap_session_changed(c->s);
	}
}

/* Mail store watcher: may run on any thread, so it only wakes the loop. */
static void
on_store_change(void *arg, const char *folder)
{
	struct imap_server *srv = arg;

	(void)folder;
	uv_async_send(&srv->changed);
}

static void
on_async_closed(uv_handle_t *h)
{
	struct imap_server *srv = h->data;
	void (*done)(void *) = srv->done;
	void *arg = srv->done_arg;

	free(srv);
	if (done != NULL)
		done(arg);
}

int
imap_server_start(struct imap_server **out, uv_loop_t *loop, struct mailstore *ms,
    const struct imap_server_config *cfg, char *why, size_t whylen)
{
	struct listener_config lcfg;
	struct imap_server *srv;
	int r;

	*out = NULL;
	if (cfg->auth == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return SOTTO_ERR_NOMEM;
	srv->loop = loop;
	srv->ms = ms;
	srv->cfg = *cfg;
	memset(&lcfg, 0, sizeof(lcfg));
	lcfg.host = cfg->host;
	lcfg.port = cfg->port;
	lcfg.max_conns = cfg->max_conns;
	lcfg.idle_ms = IMAP_IDLE_PREAUTH_MS;
	/* the engine stops adding output past out_high, but the response in hand (at worst a
	 * whole message as a literal, twice over for RFC822 + BODY[]) still has to fit */
	lcfg.out_max = (cfg->imap.out_high ? cfg->imap.out_high : 4u << 20) +
	    (cfg->imap.literal_max ? cfg->imap.literal_max : 26u << 20) * 2 + (1u << 20);
	lcfg.busy_reply = "* BYE Too many connections\r\n";
	if (uv_async_init(loop, &srv->changed, on_changed) != 0) {
		free(srv);
		return SOTTO_ERR_IO;
	}
	srv->changed.data = srv;
	if ((r = listener_start(&srv->l, loop, &lcfg, &imap_listener_ops, srv, why, whylen)) != 0) {
		/* srv is freed once libuv lets go of the async handle */
		uv_close((uv_handle_t *)&srv->changed, on_async_closed);
		return r;
	}
	listener_set_drained(srv->l, on_drained);
	ms->ops->watch(ms->impl, on_store_change, srv);
	*out = srv;
	return 0;
}

uint16_t
imap_server_port(const struct imap_server *srv)
{
	return listener_port(srv->l);
}

static void
on_listener_stopped(void *arg)
{
	struct imap_server *srv = arg;

	uv_close((uv_handle_t *)&srv->changed, on_async_closed);
}

void
imap_server_stop(struct imap_server *srv, void (*done)(void *), void *arg)
{
	srv->ms->ops->watch(srv->ms->impl, NULL, NULL);
	srv->done = done;
	srv->done_arg = arg;
	listener_stop(srv->l, on_listener_stopped, srv);
}
