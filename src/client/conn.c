/*
 * The client connection: TCP, the Noise_XX handshake as initiator, then framed requests.
 * The socket is non-blocking and every wait is a poll() bounded by the caller's deadline.
 */
#include "client/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/noise.h"

#define CONN_READ_CHUNK 16384

struct conn_item {
	uint8_t *p;
	size_t len;
};

struct conn {
	int fd;
	int broken;                     /* a fatal error happened; only close remains */
	struct noise_transport t;       /* secret keys */
	struct frame_decoder dec;
	struct frame_reasm reasm;
	uint8_t *scratch;               /* FRAME_MAX bytes of decrypted plaintext */
	uint8_t in[CONN_READ_CHUNK];
	size_t in_off, in_len;
	struct conn_item lent;          /* the message the caller's proto_msg borrows from */
	struct conn_item queue[CONN_QUEUE_MAX];
	size_t q_head, q_len;
	uint32_t next_id;
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t server_pk[32];          /* Ed25519, from the address */
	int resumed;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
deadline_from(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Waits for events on fd until the deadline (-1: forever). */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r, wait;

	for (;;) {
		if (deadline < 0) {
			wait = -1;
		} else {
			int64_t left = deadline - now_ms();

			if (left < 0)
				left = 0;
			wait = left > 60000 ? 60000 : (int)left;
		}
		r = poll(&pfd, 1, wait);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return SOTTO_ERR_IO;
		if (r == 0 && deadline >= 0 && now_ms() >= deadline)
			return SOTTO_ERR_TIMEOUT;
	}
}

static int
send_all(struct conn *c, const uint8_t *p, size_t len, int64_t deadline)
{
	size_t off = 0;
	ssize_t n;
	int r;

	while (off < len) {
		n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = wait_fd(c->fd, POLLOUT, deadline)) != 0)
				return r;
			continue;
		}
		return n < 0 && (errno == EPIPE || errno == ECONNRESET) ? SOTTO_ERR_CLOSED :
		    SOTTO_ERR_IO;
	}
	return 0;
}

/* The next complete frame body; it may point into c->in and is valid until the next read. */
static int
next_frame(struct conn *c, int64_t deadline, const uint8_t **f, size_t *flen)
{
	size_t used;
	ssize_t n;
	int r;

	for (;;) {
		if (c->in_off < c->in_len) {
			r = frame_decoder_feed(&c->dec, c->in + c->in_off, c->in_len - c->in_off,
			    &used, f, flen);
			c->in_off += used;
			if (r != 0)
				return r < 0 ? r : 0;
			continue;
		}
		c->in_off = c->in_len = 0;
		n = recv(c->fd, c->in, sizeof(c->in), 0);
		if (n > 0) {
			c->in_len = (size_t)n;
			continue;
		}
		if (n == 0)
			return SOTTO_ERR_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((r = wait_fd(c->fd, POLLIN, deadline)) != 0)
				return r;
			continue;
		}
		return errno == ECONNRESET ? SOTTO_ERR_CLOSED : SOTTO_ERR_IO;
	}
}

/* The next whole logical message, copied into a fresh allocation the caller owns. */
static int
next_message(struct conn *c, int64_t deadline, struct conn_item *out)
{
	const uint8_t *f, *m;
	size_t flen, mlen;
	int r;

	for (;;) {
		if ((r = next_frame(c, deadline, &f, &flen)) != 0)
			return r;
		r = frame_open(&c->t, &c->reasm, f, flen, c->scratch, &m, &mlen);
		if (r < 0)
			return r;
		if (r == 1)
			break;
	}
	if ((out->p = malloc(mlen ? mlen : 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (mlen > 0)
		memcpy(out->p, m, mlen);
	out->len = mlen;
	return 0;
}

static void
item_free(struct conn_item *it)
{
	/* Responses may carry secrets (a ticket's psk). */
	if (it->p != NULL)
		sodium_memzero(it->p, it->len);
	free(it->p);
	it->p = NULL;
	it->len = 0;
}

static int
fail(struct conn *c, int r)
{
	/* Timeouts leave the stream intact; anything else ends the connection. */
	if (r != SOTTO_ERR_TIMEOUT && r != 0)
		c->broken = 1;
	return r;
}

/* SOTTO_ERR_UNREACHABLE when the name does not resolve, or every address refused or did
 * not answer before the deadline. */
static int
connect_to(const struct address_server *a, int64_t deadline, int *out_fd)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, r = SOTTO_ERR_UNREACHABLE, one = 1, err;
	socklen_t elen;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)a->port);
	if (getaddrinfo(a->host, port, &hints, &res) != 0)
		return SOTTO_ERR_UNREACHABLE;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			r = 0;
		} else if (errno == EINPROGRESS) {
			if ((r = wait_fd(fd, POLLOUT, deadline)) == 0) {
				err = 0;
				elen = sizeof(err);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)
					r = SOTTO_ERR_UNREACHABLE;
			}
		} else {
			r = SOTTO_ERR_UNREACHABLE;
		}
		if (r == 0)
			break;
		close(fd);
		fd = -1;
		if (r == SOTTO_ERR_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return r == SOTTO_ERR_TIMEOUT || r == 0 ? SOTTO_ERR_UNREACHABLE : r;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out_fd = fd;
	return 0;
}

/*
 * The server's first frame has one exact length. Any other length means the port answers
 * in another protocol (an HTTP, SMTP, SSH or TLS server sends text or a record whose first
 * two bytes read as a length far off), so the user hears "wrong port", not "size over
 * limit".
 */
static int
not_sotto(int r)
{
	return r == SOTTO_ERR_TOO_LARGE || r == SOTTO_ERR_PROTOCOL ? SOTTO_ERR_NOT_SOTTO : r;
}

#define HS_MSG_MAX NOISE_SOTTO_MSG2_LEN       /* the longest message of XX and NK */

_Static_assert(NOISE_SEALED_MSG1_LEN <= HS_MSG_MAX && NOISE_SEALED_MSG2_LEN <= HS_MSG_MAX,
    "NK's messages fit the handshake buffers");

/* Sends hs's next message as a handshake frame and reads the server's answer, a frame of
 * exactly answer_len bytes, into hs. */
static int
hs_round_trip(struct conn *c, struct noise_hs *hs, size_t answer_len, int64_t deadline)
{
	uint8_t msg[HS_MSG_MAX], payload[HS_MSG_MAX], out_mem[FRAME_HDR_LEN + HS_MSG_MAX];
	const uint8_t *f;
	struct buf out;
	size_t n, flen;
	int r;

	if ((r = noise_hs_write(hs, NULL, 0, msg, sizeof(msg), &n)) != 0)
		goto out;
	buf_init_fixed(&out, out_mem, sizeof(out_mem));
	if ((r = frame_put_handshake(&out, msg, n)) != 0 ||
	    (r = send_all(c, out.p, out.len, deadline)) != 0)
		goto out;
	/* Only a frame of exactly this size is read. */
	frame_decoder_expect(&c->dec, answer_len);
	if ((r = next_frame(c, deadline, &f, &flen)) != 0) {
		r = not_sotto(r);
		goto out;
	}
	r = noise_hs_read(hs, f, flen, payload, sizeof(payload), &n);
out:
	sodium_memzero(out_mem, sizeof(out_mem));
	return r;
}

/* After the last handshake message: the transport keys. */
static int
hs_split(struct conn *c, struct noise_hs *hs)
{
	int r;

	if ((r = noise_hs_split(hs, &c->t)) != 0)
		return r;
	memcpy(c->hash, noise_hs_hash(hs), sizeof(c->hash));
	frame_decoder_transport(&c->dec);
	return 0;
}

static int
handshake(struct conn *c, const uint8_t device_sk[32], const uint8_t server_ed_pk[32],
    int64_t deadline)
{
	struct noise_hs hs;
	uint8_t msg[NOISE_SOTTO_MSG3_LEN], out_mem[FRAME_HDR_LEN + NOISE_SOTTO_MSG3_LEN];
	struct buf out;
	size_t n;
	int r;

	if ((r = noise_sotto_initiator(&hs, device_sk, server_ed_pk)) != 0)
		goto out;
	/* -> e; <- e, ee, s, es. A server key other than the pinned one is SOTTO_ERR_AUTH,
	 * before we reveal ours. */
	if ((r = hs_round_trip(c, &hs, NOISE_SOTTO_MSG2_LEN, deadline)) != 0)
		goto out;
	/* -> s, se */
	if ((r = noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n)) != 0)
		goto out;
	buf_init_fixed(&out, out_mem, sizeof(out_mem));
	if ((r = frame_put_handshake(&out, msg, n)) != 0 ||
	    (r = send_all(c, out.p, out.len, deadline)) != 0)
		goto out;
	r = hs_split(c, &hs);
out:
	noise_hs_wipe(&hs);
	sodium_memzero(out_mem, sizeof(out_mem));
	return r;
}

/*
 * Resumption (wire/ticket.h): ticket || -> e (psk0), then <- e, ee. The server is
 * authenticated by the psk: only the holder of its ticket key could read it from the ticket.
 */
static int
resume_handshake(struct conn *c, const struct conn_ticket *tk, int64_t deadline)
{
	uint8_t prologue[sizeof(TICKET_PROLOGUE) - 1 + TICKET_LEN];
	uint8_t body[TICKET_FRAME1_LEN], payload[TICKET_MSG2_LEN];
	uint8_t out_mem[FRAME_HDR_LEN + TICKET_FRAME1_LEN];
	struct noise_hs hs;
	const uint8_t *f;
	struct buf out;
	size_t n, flen;
	int r;

	memcpy(prologue, TICKET_PROLOGUE, sizeof(TICKET_PROLOGUE) - 1);
	memcpy(prologue + sizeof(TICKET_PROLOGUE) - 1, tk->ticket, TICKET_LEN);
	if ((r = noise_hs_init(&hs, TICKET_PATTERN, 1, prologue, sizeof(prologue), NULL,
	    NULL)) != 0)
		goto out;
	noise_hs_set_psk(&hs, tk->psk);
	memcpy(body, tk->ticket, TICKET_LEN);
	if ((r = noise_hs_write(&hs, NULL, 0, body + TICKET_LEN, TICKET_MSG1_LEN, &n)) != 0)
		goto out;
	buf_init_fixed(&out, out_mem, sizeof(out_mem));
	if ((r = frame_put_handshake(&out, body, TICKET_LEN + n)) != 0 ||
	    (r = send_all(c, out.p, out.len, deadline)) != 0)
		goto out;
	frame_decoder_expect(&c->dec, TICKET_MSG2_LEN);
	if ((r = next_frame(c, deadline, &f, &flen)) != 0) {
		r = not_sotto(r);
		goto out;
	}
	if ((r = noise_hs_read(&hs, f, flen, payload, sizeof(payload), &n)) != 0 ||
	    (r = hs_split(c, &hs)) != 0)
		goto out;
	c->resumed = 1;
out:
	noise_hs_wipe(&hs);
	sodium_memzero(out_mem, sizeof(out_mem));
	return r;
}

/*
 * An unidentified connection (Noise_NK, wire/noise.h): -> e, es; <- e, ee. The client
 * uses no static key and the server proves its own by es; nothing in it names the device.
 */
static int
sealed_handshake(struct conn *c, const uint8_t server_ed_pk[32], int64_t deadline)
{
	struct noise_hs hs;
	int r;

	if ((r = noise_sealed_initiator(&hs, server_ed_pk)) != 0)
		goto out;
	/* A server without the static key of the address cannot make ee and es agree. */
	if ((r = hs_round_trip(c, &hs, NOISE_SEALED_MSG2_LEN, deadline)) != 0) {
		r = r == SOTTO_ERR_DECRYPT ? SOTTO_ERR_AUTH : r;
		goto out;
	}
	r = hs_split(c, &hs);
out:
	noise_hs_wipe(&hs);
	return r;
}

static void
device_tag(const uint8_t device_sk[32], uint8_t tag[32])
{
	crypto_generichash(tag, 32, device_sk, 32, (const uint8_t *)"sotto/conn/ticket", 17);
}

/* Whether tk can be tried for this server and device now. */
static int
ticket_usable(const struct conn_ticket *tk, const uint8_t server_pk[32],
    const uint8_t device_sk[32])
{
	uint8_t tag[32];
	int ok;

	if (tk == NULL || !tk->valid || tk->expiry <= (uint64_t)time(NULL))
		return 0;
	device_tag(device_sk, tag);
	ok = sodium_memcmp(tk->server_pk, server_pk, 32) == 0 &&
	    sodium_memcmp(tk->device_tag, tag, 32) == 0;
	sodium_memzero(tag, sizeof(tag));
	return ok;
}

/* One TCP connection and one handshake: resumed with tk, else full; unidentified without
 * a device key. */
static int
open_once(struct conn **out, const struct address_server *a, const uint8_t device_sk[32],
    const struct conn_ticket *tk, int64_t deadline)
{
	struct conn *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SOTTO_ERR_NOMEM;
	c->fd = -1;
	memcpy(c->server_pk, a->key, sizeof(c->server_pk));
	frame_decoder_init(&c->dec);
	frame_reasm_init(&c->reasm, FRAME_MSG_MAX_DEFAULT);
	if ((c->scratch = malloc(FRAME_MAX)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto fail;
	}
	if ((r = connect_to(a, deadline, &c->fd)) != 0)
		goto fail;
	if (device_sk == NULL)
		r = sealed_handshake(c, a->key, deadline);
	else if (tk != NULL)
		r = resume_handshake(c, tk, deadline);
	else
		r = handshake(c, device_sk, a->key, deadline);
	if (r != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	conn_close(c);
	return r;
}

int
conn_open(struct conn **out, const char *server_address, const uint8_t device_sk[32],
    int timeout_ms)
{
	return conn_open_resume(out, server_address, device_sk, NULL, timeout_ms);
}

/* The ticket in a LOGIN or TICKET response into tk. */
static void
ticket_take(struct conn *c, const uint8_t device_sk[32], const struct proto_ticket_result *t,
    struct conn_ticket *tk)
{
	memcpy(tk->server_pk, c->server_pk, sizeof(tk->server_pk));
	device_tag(device_sk, tk->device_tag);
	memcpy(tk->ticket, t->ticket, TICKET_LEN);
	memcpy(tk->psk, t->psk, TICKET_PSK_LEN);
	tk->expiry = t->expiry;
	tk->valid = 1;
}

int
conn_fetch_ticket(struct conn *c, const uint8_t device_sk[32], struct conn_ticket *tk,
    int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_TICKET;
	if ((r = conn_request(c, &req, &resp, timeout_ms)) != 0)
		return r;
	if ((r = resp.status) == 0)
		ticket_take(c, device_sk, &resp.u.ticket, tk);
	/* The psk also passed through the decrypted-frame scratch. */
	sodium_memzero(&resp, sizeof(resp));
	sodium_memzero(c->scratch, FRAME_MAX);
	item_free(&c->lent);
	return r;
}

/* LOGIN as the first request; an older server (UNSUPPORTED) gets TICKET instead. */
static int
login(struct conn *c, const uint8_t device_sk[32], struct conn_login *l, int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	l->fresh = 0;
	l->guest = 0;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_LOGIN;
	req.u.login.generation = l->generation;
	if ((r = conn_request(c, &req, &resp, timeout_ms)) != 0)
		return r;
	r = resp.status;
	if (r == 0) {
		l->generation = resp.u.logged_in.generation;
		l->fresh = 1;
		if (l->tk != NULL && resp.u.logged_in.has_ticket)
			ticket_take(c, device_sk, &resp.u.logged_in.ticket, l->tk);
		else
			conn_ticket_wipe(l->tk);
	}
	sodium_memzero(&resp, sizeof(resp));
	sodium_memzero(c->scratch, FRAME_MAX);
	item_free(&c->lent);
	if (r == SOTTO_ERR_UNSUPPORTED && l->tk != NULL)
		return conn_fetch_ticket(c, device_sk, l->tk, timeout_ms);
	l->guest = r == SOTTO_ERR_AUTH;
	return r;
}

/* The rest of the deadline as a timeout. */
static int
left_ms(int timeout_ms, int64_t deadline)
{
	if (timeout_ms < 0)
		return -1;
	return (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
}

/* conn_open_resume (l == NULL) and conn_open_login. */
static int
open_session(struct conn **out, const char *server_address, const uint8_t device_sk[32],
    struct conn_ticket *tk, struct conn_login *l, int timeout_ms)
{
	struct address_server a;
	struct conn *c = NULL;
	int64_t deadline = deadline_from(timeout_ms);
	int r;

	*out = NULL;
	if (server_address == NULL || device_sk == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = address_server_parse(server_address, &a)) != 0)
		return r;
	r = SOTTO_ERR_STATE;
	if (ticket_usable(tk, a.key, device_sk)) {
		r = open_once(&c, &a, device_sk, tk, deadline);
		/* Each ticket is tried once; the login hands out a new one. */
		conn_ticket_wipe(tk);
		if (r == SOTTO_ERR_TIMEOUT || r == SOTTO_ERR_UNREACHABLE)
			return r;
	}
	/* No ticket, or the server refused it (unknown key, expired, wrong psk): full login. */
	if (r != 0 && (r = open_once(&c, &a, device_sk, NULL, deadline)) != 0)
		return r;
	if (l != NULL) {
		/* Also the resumption's confirmation, as TICKET is below. */
		r = login(c, device_sk, l, left_ms(timeout_ms, deadline));
		/* Not a registered device (yet): no generation, no ticket. */
		if (r == SOTTO_ERR_AUTH || r == SOTTO_ERR_UNSUPPORTED) {
			conn_ticket_wipe(tk);
			r = 0;
		}
	} else if (tk != NULL) {
		/*
		 * Also the resumption's confirmation: the server takes the device as logged in
		 * only once this first transport message decrypts.
		 */
		r = conn_fetch_ticket(c, device_sk, tk, left_ms(timeout_ms, deadline));
		/* Resumption off, or not a registered device: no ticket. */
		if (r == SOTTO_ERR_UNSUPPORTED || r == SOTTO_ERR_AUTH) {
			conn_ticket_wipe(tk);
			r = 0;
		}
	}
	if (r != 0) {
		conn_close(c);
		return r;
	}
	*out = c;
	return 0;
}

int
conn_open_sealed(struct conn **out, const char *server_address, int timeout_ms)
{
	struct address_server a;
	int r;

	*out = NULL;
	if (server_address == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = address_server_parse(server_address, &a)) != 0)
		return r;
	return open_once(out, &a, NULL, NULL, deadline_from(timeout_ms));
}

int
conn_open_resume(struct conn **out, const char *server_address, const uint8_t device_sk[32],
    struct conn_ticket *tk, int timeout_ms)
{
	return open_session(out, server_address, device_sk, tk, NULL, timeout_ms);
}

int
conn_open_login(struct conn **out, const char *server_address, const uint8_t device_sk[32],
    struct conn_login *l, int timeout_ms)
{
	if (l == NULL)
		return SOTTO_ERR_INVALID_ARG;
	return open_session(out, server_address, device_sk, l->tk, l, timeout_ms);
}

int
conn_resumed(const struct conn *c)
{
	return c->resumed;
}

void
conn_ticket_wipe(struct conn_ticket *tk)
{
	if (tk != NULL)
		sodium_memzero(tk, sizeof(*tk));
}

static int
send_msg(struct conn *c, const struct proto_msg *m, int64_t deadline)
{
	struct buf plain, wire;
	int r;

	if (c == NULL || m == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if (c->broken)
		return SOTTO_ERR_CLOSED;
	buf_init_dyn(&plain, FRAME_MSG_MAX_DEFAULT);
	buf_init_dyn(&wire, FRAME_MSG_MAX_DEFAULT + FRAME_MSG_MAX_DEFAULT / 64);
	if ((r = proto_encode(m, &plain)) != 0)
		goto out;
	/* From here on a failure (even a timeout mid-write) leaves the stream unusable. */
	if ((r = frame_seal_padded(&c->t, plain.p, plain.len, proto_padding(m), &wire)) != 0 ||
	    (r = send_all(c, wire.p, wire.len, deadline)) != 0)
		c->broken = 1;
out:
	/* The plaintext may hold invite tokens. */
	buf_wipe_free(&plain);
	buf_free(&wire);
	return r;
}

int
conn_send(struct conn *c, const struct proto_msg *m)
{
	return send_msg(c, m, -1);
}

/* Decodes the message in c->lent into m. */
static int
decode_lent(struct conn *c, struct proto_msg *m)
{
	int r = proto_decode(c->lent.p, c->lent.len, m);

	return r != 0 ? fail(c, SOTTO_ERR_PROTOCOL) : 0;
}

static int
queue_push(struct conn *c, struct conn_item *it)
{
	if (c->q_len == CONN_QUEUE_MAX) {
		item_free(it);
		return fail(c, SOTTO_ERR_LIMIT);
	}
	c->queue[(c->q_head + c->q_len) % CONN_QUEUE_MAX] = *it;
	c->q_len++;
	it->p = NULL;   /* transferred */
	return 0;
}

int
conn_request(struct conn *c, struct proto_msg *req, struct proto_msg *resp, int timeout_ms)
{
	int64_t deadline = deadline_from(timeout_ms);
	struct conn_item it = { 0 };
	struct cur cu;
	uint8_t type;
	uint32_t id;
	int r;

	if (c == NULL || req == NULL || resp == NULL || proto_is_response(req->type) ||
	    proto_is_notice(req->type))
		return SOTTO_ERR_INVALID_ARG;
	if (c->broken)
		return SOTTO_ERR_CLOSED;
	item_free(&c->lent);
	if (++c->next_id == 0)
		c->next_id = 1;
	req->id = c->next_id;
	if ((r = send_msg(c, req, deadline)) != 0)
		return r;
	for (;;) {
		if ((r = next_message(c, deadline, &it)) != 0)
			return fail(c, r);
		cur_init(&cu, it.p, it.len);
		(void)cur_u8(&cu);
		type = cur_u8(&cu);
		id = cur_u32(&cu);
		if (cur_status(&cu) == 0 && proto_is_response(type) &&
		    (type & (uint8_t)~PROTO_RESPONSE) == req->type && id == req->id) {
			c->lent = it;
			return decode_lent(c, resp);
		}
		if ((r = queue_push(c, &it)) != 0)
			return r;
	}
}

int
conn_next_event(struct conn *c, struct proto_msg *ev, int timeout_ms)
{
	int r;

	if (c == NULL || ev == NULL)
		return SOTTO_ERR_INVALID_ARG;
	item_free(&c->lent);
	if (c->q_len > 0) {
		c->lent = c->queue[c->q_head];
		c->queue[c->q_head].p = NULL;
		c->q_head = (c->q_head + 1) % CONN_QUEUE_MAX;
		c->q_len--;
		return decode_lent(c, ev);
	}
	if (c->broken)
		return SOTTO_ERR_CLOSED;
	if ((r = next_message(c, deadline_from(timeout_ms), &c->lent)) != 0)
		return fail(c, r);
	return decode_lent(c, ev);
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

const uint8_t *
conn_handshake_hash(const struct conn *c)
{
	return c->hash;
}

void
conn_close(struct conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	for (i = 0; i < c->q_len; i++)
		item_free(&c->queue[(c->q_head + i) % CONN_QUEUE_MAX]);
	item_free(&c->lent);
	frame_decoder_free(&c->dec);
	frame_reasm_free(&c->reasm);
	if (c->scratch != NULL)
		sodium_memzero(c->scratch, FRAME_MAX);
	free(c->scratch);
	sodium_memzero(c, sizeof(*c));
	free(c);
}
