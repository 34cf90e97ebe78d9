/*
 * One client connection: reading frames, the Noise handshake as responder, reassembling
 * and decoding requests, rate limits and timeouts, and writing sealed responses.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/log.h"

static void on_peer_closed(uv_handle_t *h);

static void
peer_free_if_done(struct peer *p)
{
	if (p->state != PEER_CLOSED || p->handles_open > 0 || p->commits > 0)
		return;
	free(p);
}

static void
on_peer_closed(uv_handle_t *h)
{
	struct peer *p = h->data;

	p->handles_open--;
	peer_free_if_done(p);
}

void
peer_commit_released(struct peer *p)
{
	p->commits--;
	if (p->state == PEER_CLOSED)
		peer_free_if_done(p);
	else if (p->commits < PEER_COMMITS_MAX / 2)
		peer_resume_reading(p);
}

void
peer_close(struct peer *p, const char *reason)
{
	struct server *s = p->srv;

	if (p->state == PEER_CLOSED)
		return;
	if (reason != NULL)
		log_info("conn %llu from %s closed: %s", (unsigned long long)p->id, p->addr_str,
		    reason);
	if (p->acct != NULL)
		server_acct_detach(s, p);
	p->state = PEER_CLOSED;
	if (p->hs != NULL) {
		noise_hs_wipe(p->hs);
		free(p->hs);
		p->hs = NULL;
	}
	noise_transport_wipe(&p->tr);
	frame_decoder_free(&p->dec);
	frame_reasm_free(&p->reasm);
	if (p->addr_counted)
		ratelimit_addr_release(s->addrs, p->addr);
	if (p->prev)
		p->prev->next = p->next;
	else
		s->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->n_peers--;
	uv_close((uv_handle_t *)&p->timer, on_peer_closed);
	uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
}

struct wreq {
	uv_write_t req;
	struct peer *p;
	uint8_t data[];
};

static void
on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct peer *p = w->p;

	free(w);
	if (status < 0 && status != UV_ECANCELED)
		peer_close(p, "write failed");
}

/* Writes bytes now if the socket takes them, else queues a copy of the rest. */
static int
peer_write(struct peer *p, const uint8_t *data, size_t len)
{
	struct server *s = p->srv;
	struct wreq *w;
	uv_buf_t b;
	int n = 0;

	if (p->tcp.write_queue_size == 0) {
		b = uv_buf_init((char *)data, (unsigned)len);
		n = uv_try_write((uv_stream_t *)&p->tcp, &b, 1);
		if (n == UV_EAGAIN || n == UV_ENOSYS)
			n = 0;
		if (n < 0) {
			peer_close(p, "write failed");
			return SOTTO_ERR_IO;
		}
		if ((size_t)n == len)
			return 0;
	}
	/* A reader that does not keep up is dropped rather than buffered without end. */
	if (p->tcp.write_queue_size + (len - (size_t)n) > s->cfg.write_queue_max) {
		peer_close(p, "peer not reading (write queue full)");
		return SOTTO_ERR_LIMIT;
	}
	if ((w = malloc(sizeof(*w) + len - (size_t)n)) == NULL) {
		peer_close(p, "out of memory");
		return SOTTO_ERR_NOMEM;
	}
	w->p = p;
	memcpy(w->data, data + n, len - (size_t)n);
	b = uv_buf_init((char *)w->data, (unsigned)(len - (size_t)n));
	if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, on_written) != 0) {
		free(w);
		peer_close(p, "write failed");
		return SOTTO_ERR_IO;
	}
	return 0;
}

int
peer_send(struct peer *p, const struct proto_msg *m)
{
	struct server *s = p->srv;
	struct buf enc;
	int r;

	if (p->state != PEER_GUEST && p->state != PEER_MEMBER)
		return SOTTO_ERR_CLOSED;
	buf_init_fixed(&enc, s->encbuf, s->encbuf_cap);
	if ((r = proto_encode(m, &enc)) != 0 || (r = buf_status(&enc)) != 0) {
		log_error("conn %llu: cannot encode %s: %s", (unsigned long long)p->id,
		    proto_type_name(m->type), sotto_strerror(r));
		peer_close(p, "internal encode error");
		return r;
	}
	buf_reset(&s->sealed);
	if ((r = frame_seal(&p->tr, enc.p, enc.len, &s->sealed)) != 0 ||
	    (r = buf_status(&s->sealed)) != 0) {
		peer_close(p, "cannot seal frame");
		return r;
	}
	return peer_write(p, s->sealed.p, s->sealed.len);
}

void
peer_respond(struct peer *p, uint8_t type, uint32_t id, int status)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	proto_response(&m, type, id, status);
	(void)peer_send(p, &m);
}

static void
on_timer(uv_timer_t *t)
{
	struct peer *p = t->data;
	struct server *s = p->srv;
	uint64_t now = server_now_ms(s), idle;

	if (p->state == PEER_HANDSHAKE) {
		peer_close(p, "handshake timeout");
		return;
	}
	idle = now - p->last_active_ms;
	if (idle >= s->cfg.idle_timeout_ms) {
		peer_close(p, "idle timeout");
		return;
	}
	uv_timer_start(&p->timer, on_timer, s->cfg.idle_timeout_ms - idle, 0);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct peer *p = h->data;

	(void)suggested;
	/* One buffer for every connection: read_cb consumes it before the loop goes on. */
	*b = uv_buf_init((char *)p->srv->rbuf, FRAME_MAX + FRAME_HDR_LEN);
}

static void
handshake_frame(struct peer *p, const uint8_t *frame, size_t len)
{
	struct server *s = p->srv;
	uint8_t msg2[NOISE_SOTTO_MSG2_LEN], out[NOISE_SOTTO_MSG2_LEN + FRAME_HDR_LEN];
	struct store_account a;
	struct buf b;
	size_t n = 0;
	int r;

	if ((r = noise_hs_read(p->hs, frame, len, msg2, 0, &n)) != 0) {
		peer_close(p, "handshake failed");
		return;
	}
	if (!noise_hs_finished(p->hs)) {
		/* msg1 read: answer with msg2, then expect msg3. */
		if ((r = noise_hs_write(p->hs, NULL, 0, msg2, sizeof(msg2), &n)) != 0) {
			peer_close(p, "handshake failed");
			return;
		}
		buf_init_fixed(&b, out, sizeof(out));
		if (frame_put_handshake(&b, msg2, n) != 0 || buf_status(&b) != 0) {
			peer_close(p, "handshake failed");
			return;
		}
		frame_decoder_expect(&p->dec, noise_hs_next_len(p->hs, 0));
		(void)peer_write(p, b.p, b.len);
		return;
	}
	if ((r = noise_hs_remote_static(p->hs, p->device_key)) != 0 ||
	    (r = noise_hs_split(p->hs, &p->tr)) != 0) {
		peer_close(p, "handshake failed");
		return;
	}
	noise_hs_wipe(p->hs);
	free(p->hs);
	p->hs = NULL;
	frame_decoder_transport(&p->dec);
	frame_reasm_init(&p->reasm, s->cfg.max_payload_preauth);
	p->state = PEER_GUEST;
	p->last_active_ms = server_now_ms(s);
	ratelimit_bucket_init(&p->bucket, s->cfg.conn_rate_preauth, p->last_active_ms);
	uv_timer_start(&p->timer, on_timer, s->cfg.idle_timeout_ms, 0);
	r = s->store->ops->account_by_device(s->store, p->device_key, &a);
	if (r == 0)
		peer_become_member(p, &a);
	else if (r != SOTTO_ERR_NOT_FOUND)
		peer_close(p, "account lookup failed");
	else
		log_debug("conn %llu: guest device", (unsigned long long)p->id);
}

void
peer_become_member(struct peer *p, const struct store_account *a)
{
	struct server *s = p->srv;

	if (server_acct_attach(s, p, a) == NULL) {
		peer_close(p, "out of memory");
		return;
	}
	p->state = PEER_MEMBER;
	frame_reasm_set_max(&p->reasm, s->cfg.max_payload);
	ratelimit_bucket_init(&p->bucket, s->cfg.conn_burst, server_now_ms(s));
	log_info("conn %llu: %s@%s connected", (unsigned long long)p->id, a->name, s->cfg.domain);
	p->last_pushed = 0;
	p->push_inflight = 0;
	p->backlog = 1;
	prekeys_check_low(p, a->id, 0);
	mailbox_pump(p);
}

static int
rate_ok(struct peer *p)
{
	struct server *s = p->srv;
	uint64_t now = server_now_ms(s);

	if (p->state == PEER_GUEST)
		return ratelimit_take(&p->bucket, s->cfg.conn_rate_preauth,
		    s->cfg.conn_rate_preauth, now);
	if (!ratelimit_take(&p->bucket, s->cfg.conn_rate, s->cfg.conn_burst, now))
		return 0;
	return ratelimit_take(&p->acct->bucket, s->cfg.account_rate, s->cfg.account_burst, now);
}

static void
dispatch(struct peer *p, const uint8_t *msg, size_t len)
{
	struct proto_msg *m;
	int r;

	/* struct proto_msg is large (upload carries 100 prekeys): keep it off the stack. */
	static struct proto_msg mbuf;

	m = &mbuf;
	if ((r = proto_decode(msg, len, m)) != 0) {
		peer_close(p, r == SOTTO_ERR_BAD_VERSION ? "unsupported protocol version" :
		    "malformed request");
		return;
	}
	if (proto_is_response(m->type) || proto_is_notice(m->type) || m->id == 0) {
		peer_close(p, "not a request");
		return;
	}
	p->last_active_ms = server_now_ms(p->srv);
	if (!rate_ok(p)) {
		if (p->state == PEER_GUEST) {
			peer_close(p, "request rate before registration exceeded");
			return;
		}
		log_debug("conn %llu: rate limited", (unsigned long long)p->id);
		peer_respond(p, m->type, m->id, SOTTO_ERR_LIMIT);
		return;
	}
	if (p->state == PEER_GUEST && m->type != PROTO_REGISTER) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_AUTH);
		return;
	}
	switch (m->type) {
	case PROTO_REGISTER:
		handle_register(p, m);
		break;
	case PROTO_UPLOAD_PREKEYS:
		handle_upload_prekeys(p, m);
		break;
	case PROTO_FETCH_BUNDLE:
		handle_fetch_bundle(p, m);
		break;
	case PROTO_SEND:
		handle_send(p, m);
		break;
	case PROTO_RECEIVED:
		handle_received(p, m);
		break;
	case PROTO_SENDER_CERTIFICATE:
		handle_sender_certificate(p, m);
		break;
	default:
		peer_respond(p, m->type, m->id, SOTTO_ERR_UNSUPPORTED);
		break;
	}
	sodium_memzero(m, sizeof(*m));
}

static void
transport_frame(struct peer *p, const uint8_t *frame, size_t len)
{
	const uint8_t *msg = NULL;
	size_t msg_len = 0;
	int r;

	r = frame_open(&p->tr, &p->reasm, frame, len, p->srv->scratch, &msg, &msg_len);
	if (r < 0) {
		peer_close(p, r == SOTTO_ERR_DECRYPT ? "frame failed authentication" :
		    r == SOTTO_ERR_TOO_LARGE ? "message over size limit" : "bad frame");
		return;
	}
	if (r == 1)
		dispatch(p, msg, msg_len);
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct peer *p = st->data;
	const uint8_t *in = (const uint8_t *)b->base, *frame;
	size_t left = nread > 0 ? (size_t)nread : 0, used, frame_len;
	int r;

	if (nread < 0) {
		peer_close(p, nread == UV_EOF ? NULL : "read error");
		if (nread == UV_EOF)
			log_debug("conn %llu: closed by peer", (unsigned long long)p->id);
		return;
	}
	while (left > 0 && p->state != PEER_CLOSED) {
		r = frame_decoder_feed(&p->dec, in, left, &used, &frame, &frame_len);
		if (r < 0) {
			peer_close(p, r == SOTTO_ERR_TOO_LARGE ? "frame length over limit" :
			    "bad frame length");
			return;
		}
		in += used;
		left -= used;
		if (r == 0)
			break;
		if (p->state == PEER_HANDSHAKE)
			handshake_frame(p, frame, frame_len);
		else
			transport_frame(p, frame, frame_len);
		/* Stop taking requests while too many of this peer's SENDs wait for the disk.
		 * Bytes already read stay in this buffer only: finish them first. */
	}
	if (p->state != PEER_CLOSED && p->commits >= PEER_COMMITS_MAX && p->reading) {
		uv_read_stop((uv_stream_t *)&p->tcp);
		p->reading = 0;
	}
}

void
peer_resume_reading(struct peer *p)
{
	if (p->state == PEER_CLOSED || p->reading || p->srv->draining)
		return;
	if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) == 0)
		p->reading = 1;
}

static void
addr_of(struct peer *p)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(p->addr, 0, sizeof(p->addr));
	strcpy(p->addr_str, "?");
	if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		p->addr[10] = 0xff, p->addr[11] = 0xff;
		memcpy(p->addr + 12, &a->sin_addr, 4);
		uv_ip4_name(a, p->addr_str, sizeof(p->addr_str));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		memcpy(p->addr, &a->sin6_addr, 16);
		uv_ip6_name(a, p->addr_str, sizeof(p->addr_str));
	}
}

void
peer_accept(struct server *s)
{
	struct peer *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_error("accept: out of memory");
		return;
	}
	p->srv = s;
	p->id = ++s->next_peer_id;
	uv_tcp_init(s->loop, &p->tcp);
	p->tcp.data = p;
	p->handles_open = 1;
	if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&p->tcp) != 0) {
		p->state = PEER_CLOSED;
		uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
		return;
	}
	addr_of(p);
	uv_timer_init(s->loop, &p->timer);
	p->timer.data = p;
	p->handles_open = 2;
	p->state = PEER_HANDSHAKE;
	p->next = s->peers;
	if (s->peers)
		s->peers->prev = p;
	s->peers = p;
	s->n_peers++;
	frame_decoder_init(&p->dec);
	frame_reasm_init(&p->reasm, s->cfg.max_payload_preauth);
	if (s->draining) {
		peer_close(p, "server shutting down");
		return;
	}
	if (s->n_peers > s->cfg.max_conns) {
		peer_close(p, "too many connections");
		return;
	}
	if (!ratelimit_addr_acquire(s->addrs, p->addr, s->cfg.max_conns_per_addr)) {
		peer_close(p, "too many connections from this address");
		return;
	}
	p->addr_counted = 1;
	if ((p->hs = malloc(sizeof(*p->hs))) == NULL ||
	    noise_sotto_responder(p->hs, s->sk) != 0) {
		peer_close(p, "handshake setup failed");
		return;
	}
	frame_decoder_expect(&p->dec, noise_hs_next_len(p->hs, 0));
	uv_tcp_nodelay(&p->tcp, 1);
	uv_timer_start(&p->timer, on_timer, s->cfg.handshake_timeout_ms, 0);
	peer_resume_reading(p);
}
