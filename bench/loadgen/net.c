/*
 * Connection plumbing shared by every driver: non-blocking connect, reads into a shared
 * buffer with the unparsed tail kept per client, writes batched per loop turn (a client
 * with queued bytes is flushed once at the end of the callback that queued them).
 */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_BUF (256u * 1024)

static uint8_t read_buf[READ_BUF];
static int read_buf_busy;

/* Clients with bytes queued since the last flush. */
static struct lg_client **dirty;
static size_t n_dirty, cap_dirty;

struct wreq {
	uv_write_t req;
	struct lg_client *c;
	uv_buf_t b;
};

uint64_t
lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
lg_fail(struct lg_client *c, const char *why, int err)
{
	struct lg *g = c->g;

	g->st.errors++;
	if (g->st.errors <= 5)
		fprintf(stderr, "loadgen: client %u: %s (%d)\n", c->idx, why, err);
	net_close(c);
}

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct lg_client *c = w->c;

	free(w->b.base);
	free(w);
	c->writing = 0;
	if (status < 0) {
		if (c->state != LG_CLOSING && c->state != LG_IDLE)
			lg_fail(c, "write failed", status);
		return;
	}
	if (c->state != LG_CLOSING && c->state != LG_IDLE)
		lg_flush(c);
}

void
lg_flush(struct lg_client *c)
{
	uv_buf_t b;
	struct wreq *w;
	int n;

	if (c->writing || c->out.len == 0 || !c->handle_open || c->state == LG_CLOSING)
		return;
	if (buf_status(&c->out) != 0) {
		lg_fail(c, "output queue overflow", buf_status(&c->out));
		return;
	}
	b = uv_buf_init((char *)c->out.p, (unsigned)c->out.len);
	n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == (int)c->out.len) {
		buf_reset(&c->out);
		return;
	}
	if (n < 0 && n != UV_EAGAIN) {
		lg_fail(c, "write failed", n);
		return;
	}
	if (n < 0)
		n = 0;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->b.base = malloc(c->out.len - (size_t)n)) == NULL) {
		free(w);
		lg_fail(c, "out of memory", -1);
		return;
	}
	w->c = c;
	w->b.len = c->out.len - (size_t)n;
	memcpy(w->b.base, c->out.p + n, w->b.len);
	buf_reset(&c->out);
	c->writing = 1;
	b = w->b;                       /* uv_write copies the descriptors, not the bytes */
	if ((n = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) != 0) {
		c->writing = 0;
		free(w->b.base);
		free(w);
		lg_fail(c, "write failed", n);
	}
}

void
net_mark(struct lg_client *c)
{
	if (c->dirty)
		return;
	if (n_dirty == cap_dirty) {
		size_t nc = cap_dirty ? cap_dirty * 2 : 1024;
		struct lg_client **nd = realloc(dirty, nc * sizeof(*nd));

		if (nd == NULL) {
			lg_flush(c);
			return;
		}
		dirty = nd;
		cap_dirty = nc;
	}
	c->dirty = 1;
	dirty[n_dirty++] = c;
}

void
net_flush_all(void)
{
	/* Flushing may fail a client and close it, which never marks new ones. */
	for (size_t i = 0; i < n_dirty; i++) {
		dirty[i]->dirty = 0;
		lg_flush(dirty[i]);
	}
	n_dirty = 0;
}

static void
on_close(uv_handle_t *h)
{
	struct lg_client *c = h->data;
	struct lg *g = c->g;

	c->handle_open = 0;
	c->state = LG_IDLE;
	c->writing = 0;
	buf_reset(&c->out);
	buf_reset(&c->in);
	if (g->drv->reset != NULL)
		g->drv->reset(c);
	memset(c->ds, 0, g->drv->state_size);
}

void
net_close(struct lg_client *c)
{
	struct lg *g = c->g;

	if (!c->handle_open || c->state == LG_CLOSING)
		return;
	if (c->state == LG_READY && g->n_ready > 0)
		g->n_ready--;
	if ((c->state == LG_CONNECTING || c->state == LG_LOGIN) && g->n_connecting > 0)
		g->n_connecting--;
	c->state = LG_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	if (read_buf_busy) {            /* cannot happen on one thread; be safe */
		b->base = NULL;
		b->len = 0;
		return;
	}
	read_buf_busy = 1;
	*b = uv_buf_init((char *)read_buf, sizeof(read_buf));
}

static void
feed(struct lg_client *c, const uint8_t *p, size_t n)
{
	struct lg *g = c->g;
	long used;

	if (c->in.len == 0) {
		used = g->drv->input(c, p, n);
		if (used < 0) {
			lg_fail(c, "protocol error", (int)used);
			return;
		}
		if ((size_t)used < n && c->state != LG_CLOSING && c->state != LG_IDLE) {
			if (n - (size_t)used > LG_IN_MAX) {
				lg_fail(c, "input backlog too large", -1);
				return;
			}
			buf_put(&c->in, p + used, n - (size_t)used);
		}
		return;
	}
	if (c->in.len + n > LG_IN_MAX) {
		lg_fail(c, "input backlog too large", -1);
		return;
	}
	buf_put(&c->in, p, n);
	used = g->drv->input(c, c->in.p, c->in.len);
	if (used < 0) {
		lg_fail(c, "protocol error", (int)used);
		return;
	}
	if (c->state == LG_CLOSING || c->state == LG_IDLE)
		return;
	memmove(c->in.p, c->in.p + used, c->in.len - (size_t)used);
	c->in.len -= (size_t)used;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct lg_client *c = s->data;

	if (b->base == (char *)read_buf)
		read_buf_busy = 0;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (c->state != LG_CLOSING)
			lg_fail(c, nread == UV_EOF ? "server closed the connection" : "read failed",
			    (int)nread);
		return;
	}
	feed(c, (const uint8_t *)b->base, (size_t)nread);
	if (c->state != LG_CLOSING && c->state != LG_IDLE && c->g->drv->after_read != NULL)
		c->g->drv->after_read(c);
	if (c->state != LG_CLOSING && c->state != LG_IDLE)
		net_mark(c);
	net_flush_all();
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct lg_client *c = req->data;
	struct lg *g = c->g;
	int r;

	if (c->state == LG_CLOSING)
		return;
	if (status < 0) {
		lg_fail(c, "connect failed", status);
		return;
	}
	c->state = LG_LOGIN;
	if ((r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) != 0) {
		lg_fail(c, "read_start failed", r);
		return;
	}
	if ((r = g->drv->start(c)) != 0) {
		lg_fail(c, "login start failed", r);
		return;
	}
	net_mark(c);
	net_flush_all();
}

int
net_connect(struct lg_client *c)
{
	struct lg *g = c->g;
	int r;

	if (c->handle_open)
		return -1;
	memset(c->ds, 0, g->drv->state_size);
	if ((r = uv_tcp_init(g->loop, &c->tcp)) != 0)
		return r;
	c->tcp.data = c;
	c->creq.data = c;
	c->handle_open = 1;
	c->state = LG_CONNECTING;
	g->n_connecting++;
	(void)uv_tcp_nodelay(&c->tcp, 1);
	if ((r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&g->sa[c->idx % g->n_sa],
	    on_connect)) != 0) {
		lg_fail(c, "connect failed", r);
		return r;
	}
	return 0;
}
