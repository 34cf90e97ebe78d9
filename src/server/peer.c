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
	/* A peer still on the loop turn's flush list is freed by peer_flush_all instead. */
	if (p->state != PEER_CLOSED || p->handles_open > 0 || p->commits > 0 ||
	    p->flush_queued)
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
	if (p->state == PEER_CLOSED) {
		peer_free_if_done(p);
		return;
	}
	if (p->commits < PEER_COMMITS_MAX / 2)
		peer_resume_reading(p);
	server_acct_wake_due(p);
}

void
peer_submit_call(struct peer *p, struct commit_item *job,
    int (*call)(struct server_store *s, struct commit_item *it), void (*finish)(struct commit_item *it),
    uint32_t request_id)
{
	job->kind = COMMIT_CALL;
	job->call = call;
	job->finish = finish;
	job->owner = p;
	job->tag = request_id;
	p->commits++;
	commit_submit(p->srv->commit, job);
}

void
peer_close(struct peer *p, const char *reason)
{
	struct server *s = p->srv;

	if (p->state == PEER_CLOSED)
		return;
	if (reason != NULL)
		log_info("conn %llu closed: %s", (unsigned long long)p->id, reason);
	if (p->acct != NULL)
		server_acct_detach(s, p);
	group_push_free(p);
	blob_upload_close(p);
	p->state = PEER_CLOSED;
	wire_session_free(&p->ws);
	buf_free(&p->out);
	if (p->addr_counted)
		ratelimit_addr_release(s->addrs, p->addr, server_now_ms(s));
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
	uint8_t *mem;                   /* the peer's output buffer, handed over */
};

/* Bytes sealed for the peer and not yet taken by the kernel. */
size_t
peer_unsent(const struct peer *p)
{
	return p->tcp.write_queue_size + p->out.len;
}

/*
 * Pushes are queued only while less than this is unsent, so a backlog can never fill
 * write_queue_max (config_build keeps one largest push above it within the cap) and
 * responses always find room and wait behind at most this much.
 */
size_t
peer_push_low_water(const struct config *cfg)
{
	size_t low = cfg->write_queue_max / 4;

	return low < PEER_PUSH_LOW_MAX ? low : PEER_PUSH_LOW_MAX;
}

/* Output drained below the low-water mark: let a stalled pump go on. */
static void
peer_output_drained(struct peer *p)
{
	if (p->state != PEER_MEMBER || peer_unsent(p) >= peer_push_low_water(&p->srv->cfg))
		return;
	if (p->push_wait)
		mailbox_pump(p);
	if (p->gpush_wait && p->state == PEER_MEMBER)
		group_pump(p);
}

static void
on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct peer *p = w->p;

	free(w->mem);
	free(w);
	if (status < 0 && status != UV_ECANCELED) {
		peer_close(p, "write failed");
		return;
	}
	/* Whatever the pump adds goes out with this loop turn's flush. */
	if (status == 0)
		peer_output_drained(p);
}

/*
 * Writes what the peer's requests produced in this loop turn with one system call; what
 * the socket does not take at once goes to a libuv write request that owns the buffer.
 */
static void
peer_flush(struct peer *p)
{
	struct wreq *w;
	uv_buf_t b;
	int n = 0;

	if (p->state == PEER_CLOSED || p->out.len == 0)
		return;
	while (p->tcp.write_queue_size == 0) {
		b = uv_buf_init((char *)p->out.p, (unsigned)p->out.len);
		n = uv_try_write((uv_stream_t *)&p->tcp, &b, 1);
		if (n == UV_EAGAIN || n == UV_ENOSYS)
			n = 0;
		if (n < 0) {
			peer_close(p, "write failed");
			return;
		}
		if ((size_t)n < p->out.len)
			break;
		/* Idle connections keep no output buffer. */
		buf_free(&p->out);
		buf_init_dyn(&p->out, p->srv->cfg.write_queue_max);
		/* The kernel took it all and no write callback will come: refill now. The
		 * push window bounds how often this goes round. */
		n = 0;
		peer_output_drained(p);
		if (p->state == PEER_CLOSED || p->out.len == 0)
			return;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		peer_close(p, "out of memory");
		return;
	}
	w->p = p;
	w->mem = p->out.p;              /* transferred */
	b = uv_buf_init((char *)p->out.p + n, (unsigned)(p->out.len - (size_t)n));
	p->out.p = NULL;
	buf_free(&p->out);
	buf_init_dyn(&p->out, p->srv->cfg.write_queue_max);
	if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, on_written) != 0) {
		free(w->mem);
		free(w);
		peer_close(p, "write failed");
	}
}

void
peer_close_flushed(struct peer *p, const char *reason)
{
	/* What fits in the socket now goes out first: a refusal the client can read. */
	peer_flush(p);
	peer_close(p, reason);
}

void
peer_flush_all(struct server *s)
{
	struct peer *p, *next;

	for (p = s->flush_list, s->flush_list = NULL; p != NULL; p = next) {
		next = p->flush_next;
		p->flush_next = NULL;
		p->flush_queued = 0;
		if (p->state == PEER_CLOSED)
			peer_free_if_done(p);   /* closed after it queued output */
		else
			peer_flush(p);
	}
}

/* Output was appended to p->out: write it at the end of this loop turn. */
static void
peer_mark_dirty(struct peer *p)
{
	struct server *s = p->srv;

	if (p->flush_queued || p->out.len == 0)
		return;
	p->flush_queued = 1;
	p->flush_next = s->flush_list;
	s->flush_list = p;
}

static int
peer_queue(struct peer *p, const struct proto_msg *m, int is_push)
{
	struct server *s = p->srv;
	struct buf enc;
	size_t unsent = peer_unsent(p);
	int r, pad = proto_padding(m);

	if (p->state != PEER_GUEST && p->state != PEER_MEMBER && p->state != PEER_SEALED)
		return SOTTO_ERR_CLOSED;
	if (is_push && unsent >= peer_push_low_water(&s->cfg))
		return PEER_WOULD_BLOCK;
	buf_init_fixed(&enc, s->encbuf, s->encbuf_cap);
	if ((r = proto_encode(m, &enc)) != 0 || (r = buf_status(&enc)) != 0) {
		log_error("conn %llu: cannot encode %s: %s", (unsigned long long)p->id,
		    proto_type_name(m->type), sotto_strerror(r));
		peer_close(p, "internal encode error");
		return r;
	}
	/* A push waits for the output to drain rather than fill the queue; only an envelope
	 * stored before a reload shrank write_queue_max can be too large even for an empty
	 * queue, and then this connection cannot be served at all. */
	if (is_push && unsent + frame_sealed_len(enc.len, pad) > s->cfg.write_queue_max) {
		if (unsent > 0)
			return PEER_WOULD_BLOCK;
		log_error("conn %llu: envelope of %zu bytes exceeds write_queue_max",
		    (unsigned long long)p->id, enc.len);
		peer_close(p, "push larger than write_queue_max");
		return SOTTO_ERR_LIMIT;
	}
	/* A reader that does not keep up is dropped rather than buffered without end. */
	if (unsent + frame_sealed_len(enc.len, pad) > s->cfg.write_queue_max) {
		peer_close(p, "peer not reading (write queue full)");
		return SOTTO_ERR_LIMIT;
	}
	if ((r = wire_session_seal(&p->ws, enc.p, enc.len, pad, &p->out)) != 0 ||
	    (r = buf_status(&p->out)) != 0) {
		peer_close(p, "cannot seal frame");
		return r;
	}
	peer_mark_dirty(p);
	return 0;
}

int
peer_send(struct peer *p, const struct proto_msg *m)
{
	return peer_queue(p, m, 0);
}

int
peer_push(struct peer *p, const struct proto_msg *m)
{
	return peer_queue(p, m, 1);
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
	uint64_t now = server_now_ms(s), idle, limit;

	if (p->state == PEER_HANDSHAKE) {
		peer_close(p, "handshake timeout");
		return;
	}
	/* A device that is not registered gets as long as a handshake to do so. */
	limit = p->state == PEER_GUEST ? s->cfg.handshake_timeout_ms : s->cfg.idle_timeout_ms;
	idle = now - p->last_active_ms;
	if (idle >= limit) {
		peer_close(p, p->state == PEER_GUEST ? "unregistered device idle" : "idle timeout");
		return;
	}
	uv_timer_start(&p->timer, on_timer, limit - idle, 0);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct peer *p = h->data;

	(void)suggested;
	/* One buffer for every connection: read_cb consumes it before the loop goes on. */
	*b = uv_buf_init((char *)p->srv->rbuf, FRAME_MAX + FRAME_HDR_LEN);
}

/*
 * An unidentified connection: nothing known of its client, so it may only SEND_SEALED,
 * each authorised by its recipient's delivery token (handle_send_sealed), and
 * GROUP_SEND_SEALED, by the group's token (handle_group_send_sealed); requests are
 * limited per connection, per recipient mailbox and per group token, never per account.
 */
static void
peer_become_sealed(struct peer *p)
{
	struct server *s = p->srv;

	p->state = PEER_SEALED;
	p->last_active_ms = server_now_ms(s);
	frame_reasm_set_max(&p->ws.reasm, s->cfg.max_payload);
	ratelimit_bucket_init(&p->bucket, s->cfg.conn_burst, p->last_active_ms);
	uv_timer_start(&p->timer, on_timer, s->cfg.idle_timeout_ms, 0);
	log_info("conn %llu: unidentified", (unsigned long long)p->id);
}

/* The device key is authenticated: a registered device is a member, else a guest. */
static void
handshake_done(struct peer *p)
{
	struct server *s = p->srv;
	struct store_account a;
	int r;

	if (p->ws.unidentified) {
		peer_become_sealed(p);
		return;
	}
	memcpy(p->device_key, p->ws.peer_static, sizeof(p->device_key));
	frame_reasm_set_max(&p->ws.reasm, s->cfg.max_payload_preauth);
	p->state = PEER_GUEST;
	p->last_active_ms = server_now_ms(s);
	ratelimit_bucket_init(&p->bucket, s->cfg.conn_rate_preauth, p->last_active_ms);
	uv_timer_start(&p->timer, on_timer, s->cfg.handshake_timeout_ms, 0);
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
	uv_timer_start(&p->timer, on_timer, s->cfg.idle_timeout_ms, 0);
	frame_reasm_set_max(&p->ws.reasm, s->cfg.max_payload);
	ratelimit_bucket_init(&p->bucket, s->cfg.conn_burst, server_now_ms(s));
	/* Who connected only at debug level (log.h). */
	if (log_get_level() >= LOG_DEBUG) {
		char hex[2 * NOISE_KEY_LEN + 1];

		sodium_bin2hex(hex, sizeof(hex), p->device_key, sizeof(p->device_key));
		log_debug("conn %llu: %s@%s connected%s, device %s", (unsigned long long)p->id,
		    a->name, s->cfg.domain, p->ws.resumed ? " (resumed)" : "", hex);
	} else
		log_info("conn %llu: account connected%s", (unsigned long long)p->id,
		    p->ws.resumed ? " (resumed)" : "");
	p->last_pushed = 0;
	p->push_inflight = 0;
	p->backlog = 1;
	p->push_wait = 0;
	prekeys_check_low(p, a->id, 0);
	key_packages_check_low(p, a->id, 0);
	mailbox_pump(p);
	group_push_start(p);
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
	if (p->state == PEER_SEALED)
		return 1;
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
	/* An unidentified connection only sends sealed (to a mailbox or a group); an
	 * identified one never does, so that a token is never shown beside the device that
	 * holds it. */
	if ((p->state == PEER_SEALED) != (m->type == PROTO_SEND_SEALED ||
	    m->type == PROTO_GROUP_SEND_SEALED)) {
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
	case PROTO_SEND_SEALED:
		handle_send_sealed(p, m);
		break;
	case PROTO_DELIVERY_TOKEN:
		handle_delivery_token(p, m);
		break;
	case PROTO_RECEIVED:
		handle_received(p, m);
		break;
	case PROTO_SENDER_CERTIFICATE:
		handle_sender_certificate(p, m);
		break;
	case PROTO_LOOKUP:
		handle_lookup(p, m);
		break;
	case PROTO_TICKET:
		handle_ticket(p, m);
		break;
	case PROTO_LOGIN:
		handle_login(p, m);
		break;
	case PROTO_UPLOAD_KEY_PACKAGES:
		handle_upload_key_packages(p, m);
		break;
	case PROTO_CLAIM_KEY_PACKAGE:
		handle_claim_key_package(p, m);
		break;
	case PROTO_GROUP_CREATE:
		handle_group_create(p, m);
		break;
	case PROTO_GROUP_COMMIT:
		handle_group_commit(p, m);
		break;
	case PROTO_GROUP_SEND:
		handle_group_send(p, m);
		break;
	case PROTO_GROUP_SEND_SEALED:
		handle_group_send_sealed(p, m);
		break;
	case PROTO_GROUP_RECEIVED:
		handle_group_received(p, m);
		break;
	case PROTO_BLOB_BEGIN:
		handle_blob_begin(p, m);
		break;
	case PROTO_BLOB_CHUNK:
		handle_blob_chunk(p, m);
		break;
	case PROTO_BLOB_COMMIT:
		handle_blob_commit(p, m);
		break;
	case PROTO_BLOB_GET:
		handle_blob_get(p, m);
		break;
	case PROTO_BLOB_DONE:
		handle_blob_done(p, m);
		break;
	default:
		peer_respond(p, m->type, m->id, SOTTO_ERR_UNSUPPORTED);
		break;
	}
	sodium_memzero(m, sizeof(*m));
}

static const char *
wire_reason(int r)
{
	switch (r) {
	case SOTTO_ERR_TOO_LARGE:
		return "frame or message over size limit";
	case SOTTO_ERR_DECRYPT:
		return "frame failed authentication";
	case SOTTO_ERR_AUTH:
	case SOTTO_ERR_CRYPTO:
		return "handshake failed";
	default:
		return "bad frame";
	}
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct peer *p = st->data;
	const uint8_t *in = (const uint8_t *)b->base, *msg;
	size_t left = nread > 0 ? (size_t)nread : 0, used, msg_len;
	int r;

	if (nread < 0) {
		if (nread == UV_EOF)
			log_debug("conn %llu: closed by peer", (unsigned long long)p->id);
		peer_close(p, nread == UV_EOF ? NULL : "read error");
		return;
	}
	while (left > 0 && p->state != PEER_CLOSED) {
		r = wire_session_feed(&p->ws, in, left, &used, &p->out, &msg, &msg_len);
		in += used;
		left -= used;
		if (r < 0) {
			peer_close(p, p->ws.why != NULL ? p->ws.why : wire_reason(r));
			return;
		}
		if (buf_status(&p->out) != 0) {
			peer_close(p, "out of memory");
			return;
		}
		peer_mark_dirty(p);     /* the handshake's reply, if any */
		if (r == WIRE_HANDSHAKE_DONE) {
			handshake_done(p);
			/* A resumption is confirmed by its first message, handled now. */
			if (msg != NULL && p->state != PEER_CLOSED)
				dispatch(p, msg, msg_len);
		} else if (r == WIRE_MESSAGE)
			dispatch(p, msg, msg_len);
	}
	/* Stop taking requests while too many of this peer's writes wait for the disk. */
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
	struct ratelimit_addr_limits lim;
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
	log_debug("conn %llu from %s", (unsigned long long)p->id, p->addr_str);
	uv_timer_init(s->loop, &p->timer);
	p->timer.data = p;
	p->handles_open = 2;
	p->state = PEER_HANDSHAKE;
	p->next = s->peers;
	if (s->peers)
		s->peers->prev = p;
	s->peers = p;
	s->n_peers++;
	buf_init_dyn(&p->out, s->cfg.write_queue_max);
	if (wire_session_init(&p->ws, s->static_kp, s->scratch) != 0) {
		peer_close(p, "handshake setup failed");
		return;
	}
	frame_reasm_set_max(&p->ws.reasm, s->cfg.max_payload_preauth);
	if (s->ticket != NULL && s->cfg.ticket_lifetime > 0)
		wire_session_enable_resume(&p->ws, s->ticket, s->cfg.ticket_lifetime);
	wire_session_enable_sealed(&p->ws);
	if (s->draining) {
		peer_close(p, "server shutting down");
		return;
	}
	if (s->n_peers > s->cfg.max_conns) {
		peer_close(p, "too many connections");
		return;
	}
	lim.max_conns = s->cfg.max_conns_per_addr;
	lim.rate = s->cfg.accept_rate;
	lim.burst = s->cfg.accept_burst;
	switch (ratelimit_addr_acquire(s->addrs, p->addr, &lim, server_now_ms(s))) {
	case RATELIMIT_ADMIT:
		break;
	case RATELIMIT_TOO_FAST:
		peer_close(p, "connection rate from this address exceeded");
		return;
	default:
		peer_close(p, "too many connections from this address");
		return;
	}
	p->addr_counted = 1;
	uv_tcp_nodelay(&p->tcp, 1);
	uv_timer_start(&p->timer, on_timer, s->cfg.handshake_timeout_ms, 0);
	peer_resume_reading(p);
}
