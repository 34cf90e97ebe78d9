#include "bridge/listener.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

enum {
	READ_CHUNK = 16384,
	DEFAULT_MAX_CONNS = 16,
	DEFAULT_OUT_MAX = 1 << 20,
};
#define DEFAULT_IDLE_MS (5 * 60 * 1000)

struct listener_conn {
	struct listener *l;
	struct listener_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t idle;
	uv_timer_t kick;        /* re-offers kept bytes after a resume */
	void *state;            /* the engine's; NULL for a refused connection */
	char peer[64];
	uint8_t *kept;          /* bytes the engine has not consumed yet */
	size_t kept_len, kept_off;
	size_t queued;          /* bytes handed to uv_write and not yet written */
	int handles_open;
	int closing;            /* close once queued output is written */
	int torn_down;
	int paused;
	int resume_early;       /* resumed from inside read, before the pause took effect */
	int reading;            /* uv_read_start is in effect */
	uint64_t idle_ms;
	int why;
	uint8_t rbuf[READ_CHUNK];
};

struct listener {
	uv_loop_t *loop;
	uv_tcp_t server;
	struct listener_ops ops;
	void (*drained)(void *state);
	void *arg;
	unsigned max_conns;
	uint64_t idle_ms;
	size_t out_max;
	char *busy_reply;
	uint16_t port;
	struct listener_conn *conns;
	unsigned nconns;
	int stopping;
	int server_closed;
	void (*done)(void *);
	void *done_arg;
};

struct write_req {
	uv_write_t req;
	struct listener_conn *c;
	size_t n;
	uint8_t data[];
};

static void conn_teardown(struct listener_conn *c, int why);
static void on_server_closed(uv_handle_t *h);

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static int
parse_host(const char *host, struct sockaddr_storage *ss, uint16_t port)
{
	if (host == NULL || strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return SOTTO_ERR_INVALID_ARG;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		return memcmp(&a->sin6_addr, v6_loop, 16) == 0;
	}
	return 0;
}

int
listener_check_host(const char *host, const char *tls_key, char *why, size_t whylen)
{
	struct sockaddr_storage ss;

	if (parse_host(host, &ss, 0) != 0) {
		say(why, whylen, "cannot listen on '%s': not a numeric IP address", host);
		return SOTTO_ERR_INVALID_ARG;
	}
	if (is_loopback(&ss))
		return 0;
	/* Mail clients send the bridge password and whole plaintext mails: off loopback that
	 * would cross a network in the clear. */
	if (tls_key == NULL || tls_key[0] == '\0') {
		say(why, whylen, "refusing to listen on %s: not a loopback address, and no TLS "
		    "key is configured (the bridge carries passwords and plaintext mail)", host);
		return SOTTO_ERR_AUTH;
	}
	say(why, whylen, "refusing to listen on %s: STARTTLS with key %s is not implemented yet; "
	    "use a loopback address", host, tls_key);
	return SOTTO_ERR_UNSUPPORTED;
}

int
listener_parse_addr(const char *s, char *host, size_t hostcap, uint16_t *port)
{
	struct cur c;
	const uint8_t *h, *digits;
	size_t hlen, n, i;
	unsigned long v = 0;
	struct sockaddr_storage ss;

	if (s == NULL || hostcap == 0)
		return SOTTO_ERR_INVALID_ARG;
	cur_init(&c, (const uint8_t *)s, strlen(s));
	if (cur_peek(&c) == '[') {
		(void)cur_u8(&c);
		if ((h = cur_take_until(&c, ']', &hlen)) == NULL)
			return SOTTO_ERR_INVALID_ARG;
		(void)cur_u8(&c);
	} else {
		/* A second colon is refused below with the port digits: bare IPv6 needs
		 * brackets. */
		if ((h = cur_take_until(&c, ':', &hlen)) == NULL)
			return SOTTO_ERR_INVALID_ARG;
	}
	if (cur_u8(&c) != ':' || hlen == 0 || hlen >= hostcap)
		return SOTTO_ERR_INVALID_ARG;
	digits = cur_rest(&c, &n);
	if (cur_status(&c) != 0 || n == 0 || n > 5)
		return SOTTO_ERR_INVALID_ARG;
	for (i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return SOTTO_ERR_INVALID_ARG;
		v = v * 10 + (unsigned long)(digits[i] - '0');
	}
	if (v == 0 || v > 65535)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_host(host, &ss, 0) != 0) {
		host[0] = '\0';
		return SOTTO_ERR_INVALID_ARG;
	}
	*port = (uint16_t)v;
	return 0;
}

static void
maybe_done(struct listener *l)
{
	if (!l->stopping || !l->server_closed || l->nconns > 0)
		return;
	void (*done)(void *) = l->done;
	void *arg = l->done_arg;

	free(l->busy_reply);
	free(l);
	if (done != NULL)
		done(arg);
}

static void
conn_free(struct listener_conn *c)
{
	struct listener *l = c->l;

	if (c->state != NULL)
		l->ops.closed(c->state, c->why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	l->nconns--;
	if (c->kept != NULL) {
		sodium_memzero(c->kept, c->kept_len);
		free(c->kept);
	}
	sodium_memzero(c->rbuf, sizeof(c->rbuf));
	free(c);
	maybe_done(l);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct listener_conn *c = h->data;

	if (--c->handles_open == 0)
		conn_free(c);
}

static void
read_stop(struct listener_conn *c)
{
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* An engine that pauses and resumes at once while it is offered kept bytes schedules a
 * second kick: starting to read twice is not an error. */
static int
read_start(struct listener_conn *c)
{
	if (c->reading)
		return 0;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		return -1;
	c->reading = 1;
	return 0;
}

static void
conn_teardown(struct listener_conn *c, int why)
{
	if (c->torn_down)
		return;
	c->torn_down = 1;
	c->closing = 1;
	c->why = why;
	read_stop(c);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
	uv_close((uv_handle_t *)&c->kick, on_handle_closed);
}

static void
on_idle(uv_timer_t *t)
{
	conn_teardown(t->data, SOTTO_ERR_TIMEOUT);
}

static void
idle_restart(struct listener_conn *c)
{
	uv_timer_start(&c->idle, on_idle, c->idle_ms, 0);
}

void
listener_conn_set_idle(struct listener_conn *c, uint64_t idle_ms)
{
	c->idle_ms = idle_ms ? idle_ms : c->l->idle_ms;
	if (!c->closing && !c->paused)
		idle_restart(c);
}

static void
on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct listener_conn *c = w->c;

	c->queued -= w->n;
	sodium_memzero(w->data, w->n);
	free(w);
	if (c->torn_down)
		return;
	if (status != 0)
		conn_teardown(c, SOTTO_ERR_IO);
	else if (c->closing && c->queued == 0)
		conn_teardown(c, 0);
	else if (c->queued == 0 && c->state != NULL && c->l->drained != NULL)
		c->l->drained(c->state);
}

void
listener_set_drained(struct listener *l, void (*drained)(void *state))
{
	l->drained = drained;
}

size_t
listener_conn_queued(const struct listener_conn *c)
{
	return c->queued;
}

int
listener_conn_write(struct listener_conn *c, const void *p, size_t n)
{
	struct write_req *w;
	uv_buf_t b;

	if (c->closing)
		return SOTTO_ERR_CLOSED;
	if (n == 0)
		return 0;
	if (n > c->l->out_max - c->queued) {
		/* The peer is not reading what we send: drop it rather than buffer without end. */
		conn_teardown(c, SOTTO_ERR_LIMIT);
		return SOTTO_ERR_LIMIT;
	}
	if ((w = malloc(sizeof(*w) + n)) == NULL) {
		conn_teardown(c, SOTTO_ERR_NOMEM);
		return SOTTO_ERR_NOMEM;
	}
	w->c = c;
	w->n = n;
	memcpy(w->data, p, n);
	b = uv_buf_init((char *)w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		free(w);
		conn_teardown(c, SOTTO_ERR_IO);
		return SOTTO_ERR_IO;
	}
	c->queued += n;
	return 0;
}

void
listener_conn_close(struct listener_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	read_stop(c);
	if (c->queued == 0)
		conn_teardown(c, 0);
}

void
listener_conn_abort(struct listener_conn *c)
{
	conn_teardown(c, SOTTO_ERR_CLOSED);
}

const char *
listener_conn_peer(const struct listener_conn *c)
{
	return c->peer;
}

int
listener_conn_closing(const struct listener_conn *c)
{
	return c->closing;
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct listener_conn *c = h->data;

	(void)hint;
	*b = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void on_kick(uv_timer_t *t);

static void
keep_rest(struct listener_conn *c, const uint8_t *p, size_t n)
{
	/* At most one read chunk is ever kept: reading stops until the engine resumes. */
	if ((c->kept = malloc(n)) == NULL) {
		conn_teardown(c, SOTTO_ERR_NOMEM);
		return;
	}
	memcpy(c->kept, p, n);
	c->kept_len = n;
	c->kept_off = 0;
	c->paused = 1;
	read_stop(c);
	uv_timer_stop(&c->idle);
	if (c->resume_early) {
		c->resume_early = 0;
		c->paused = 0;
		uv_timer_start(&c->kick, on_kick, 0, 0);
	}
}

/* Offers bytes to the engine; returns 1 if it took them all. */
static int
offer(struct listener_conn *c, const uint8_t *p, size_t n)
{
	size_t used;

	c->resume_early = 0;
	used = c->l->ops.read(c->state, p, n);

	if (c->closing)
		return 0;
	if (used > n)
		used = n;
	if (used < n) {
		keep_rest(c, p + used, n - used);
		return 0;
	}
	return 1;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct listener_conn *c = s->data;

	if (nread < 0) {
		conn_teardown(c, nread == UV_EOF ? SOTTO_ERR_CLOSED : SOTTO_ERR_IO);
		return;
	}
	if (nread == 0 || c->closing)
		return;
	idle_restart(c);
	if (c->state == NULL) {
		sodium_memzero(b->base, (size_t)nread);
		return;
	}
	(void)offer(c, (const uint8_t *)b->base, (size_t)nread);
	sodium_memzero(b->base, (size_t)nread);
}

static void
on_kick(uv_timer_t *t)
{
	struct listener_conn *c = t->data;
	uint8_t *kept = c->kept;
	size_t len = c->kept_len, off = c->kept_off;

	if (c->closing || c->paused)
		return;
	if (kept != NULL) {
		c->kept = NULL;
		c->kept_len = c->kept_off = 0;
		(void)offer(c, kept + off, len - off);
		sodium_memzero(kept, len);
		free(kept);
		/* kept again: the kick that offers it starts reading, so bytes stay in order */
		if (c->closing || c->paused || c->kept != NULL)
			return;
	}
	idle_restart(c);
	if (read_start(c) != 0)
		conn_teardown(c, SOTTO_ERR_IO);
}

void
listener_conn_pause(struct listener_conn *c)
{
	if (c->closing || c->paused)
		return;
	c->paused = 1;
	c->resume_early = 0;
	read_stop(c);
	uv_timer_stop(&c->idle);
	uv_timer_stop(&c->kick);
}

void
listener_conn_resume(struct listener_conn *c)
{
	if (c->closing)
		return;
	if (!c->paused) {
		c->resume_early = 1;
		return;
	}
	c->paused = 0;
	uv_timer_start(&c->kick, on_kick, 0, 0);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct listener_conn *c;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (status != 0 || l->stopping)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->l = l;
	c->idle_ms = l->idle_ms;
	uv_tcp_init(l->loop, &c->tcp);
	uv_timer_init(l->loop, &c->idle);
	uv_timer_init(l->loop, &c->kick);
	c->tcp.data = c->idle.data = c->kick.data = c;
	c->handles_open = 3;
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_teardown(c, SOTTO_ERR_IO);
		return;
	}
	snprintf(c->peer, sizeof(c->peer), "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
		else if (ss.ss_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
	}
	idle_restart(c);
	if (l->nconns > l->max_conns) {
		if (l->busy_reply != NULL)
			(void)listener_conn_write(c, l->busy_reply, strlen(l->busy_reply));
		listener_conn_close(c);
		return;
	}
	if ((c->state = l->ops.open(l->arg, c)) == NULL) {
		listener_conn_close(c);
		return;
	}
	if (c->closing)
		return;
	if (read_start(c) != 0)
		conn_teardown(c, SOTTO_ERR_IO);
}

int
listener_start(struct listener **out, uv_loop_t *loop, const struct listener_config *cfg,
    const struct listener_ops *ops, void *arg, char *why, size_t whylen)
{
	struct listener *l;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), r;

	*out = NULL;
	if ((r = listener_check_host(cfg->host, cfg->tls_key, why, whylen)) != 0)
		return r;
	if (parse_host(cfg->host, &ss, cfg->port) != 0)
		return SOTTO_ERR_INVALID_ARG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	l->loop = loop;
	l->ops = *ops;
	l->arg = arg;
	l->max_conns = cfg->max_conns ? cfg->max_conns : DEFAULT_MAX_CONNS;
	l->idle_ms = cfg->idle_ms ? cfg->idle_ms : DEFAULT_IDLE_MS;
	l->out_max = cfg->out_max ? cfg->out_max : DEFAULT_OUT_MAX;
	if (cfg->busy_reply != NULL && (l->busy_reply = strdup(cfg->busy_reply)) == NULL) {
		free(l);
		return SOTTO_ERR_NOMEM;
	}
	uv_tcp_init(loop, &l->server);
	l->server.data = l;
	if ((r = uv_tcp_bind(&l->server, (struct sockaddr *)&ss, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&l->server, 64, on_connection)) != 0) {
		say(why, whylen, "cannot listen on %s: %s", cfg->host ? cfg->host : "127.0.0.1",
		    uv_strerror(r));
		/* The handle is released on the next loop turn, and l with it. */
		l->stopping = 1;
		uv_close((uv_handle_t *)&l->server, on_server_closed);
		return SOTTO_ERR_IO;
	}
	if (uv_tcp_getsockname(&l->server, (struct sockaddr *)&ss, &sslen) == 0)
		l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
	*out = l;
	return 0;
}

uint16_t
listener_port(const struct listener *l)
{
	return l->port;
}

unsigned
listener_conn_count(const struct listener *l)
{
	return l->nconns;
}

static void
on_server_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	l->server_closed = 1;
	maybe_done(l);
}

void
listener_stop(struct listener *l, void (*done)(void *), void *done_arg)
{
	struct listener_conn *c, *next;

	if (l->stopping)
		return;
	l->done = done;
	l->done_arg = done_arg;
	l->stopping = 1;
	uv_close((uv_handle_t *)&l->server, on_server_closed);
	for (c = l->conns; c != NULL; c = next) {
		next = c->next;
		conn_teardown(c, SOTTO_ERR_CLOSED);
	}
}
