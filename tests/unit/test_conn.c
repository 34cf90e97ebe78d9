/*
 * The client connection against an in-process responder on loopback: a thread that runs
 * the server side of the handshake with the same wire code and answers a small script.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/proto.h"
#include "wire/session.h"

struct responder {
	int lfd;
	uint16_t port;
	uint8_t ed_pk[32], ed_sk[64];
	int mode;               /* 0 serve, 1 accept and stay silent, 2 answer as HTTP */
	int hs_result;          /* the server's view of the handshake */
	uint8_t client_static[32];
	int requests;
	pthread_t th;
};

/* Sends everything in out, then empties it. */
static int
srv_flush(int fd, struct buf *out)
{
	int r = 0;

	if (out->len > 0 && send(fd, out->p, out->len, MSG_NOSIGNAL) != (ssize_t)out->len)
		r = SOTTO_ERR_IO;
	buf_reset(out);
	return r;
}

static int
srv_send(int fd, struct wire_session *ws, const struct proto_msg *m)
{
	struct buf plain, wire;
	int r;

	buf_init_dyn(&plain, 1 << 20);
	buf_init_dyn(&wire, 1 << 21);
	if ((r = proto_encode(m, &plain)) == 0 && (r = wire_session_seal(ws, plain.p, plain.len,
	    proto_padding(m), &wire)) == 0)
		r = srv_flush(fd, &wire);
	buf_free(&plain);
	buf_free(&wire);
	return r;
}

static uint8_t big_envelope[PROTO_ENVELOPE_MAX];

static void
respond(struct responder *rp, int fd, struct wire_session *ws, const struct proto_msg *req)
{
	static struct proto_msg resp, note;

	switch (req->type) {
	case PROTO_FETCH_BUNDLE:
		/* Notices before the response: the client queues them. */
		memset(&note, 0, sizeof(note));
		note.type = PROTO_PUSH;
		note.u.push.envelope_id = 7;
		note.u.push.timestamp = 1000;
		note.u.push.envelope = (const uint8_t *)"sealed";
		note.u.push.envelope_len = 6;
		(void)srv_send(fd, ws, &note);
		memset(&note, 0, sizeof(note));
		note.type = PROTO_PREKEY_LOW;
		note.u.prekey_low.count = 3;
		(void)srv_send(fd, ws, &note);
		proto_response(&resp, req->type, req->id, SOTTO_ERR_NOT_FOUND);
		(void)srv_send(fd, ws, &resp);
		break;
	case PROTO_SEND:
		proto_response(&resp, req->type, req->id, 0);
		resp.u.sent.timestamp = 42;
		(void)srv_send(fd, ws, &resp);
		/* Echo the envelope back as a push (several fragments when large). */
		memset(&note, 0, sizeof(note));
		note.type = PROTO_PUSH;
		note.u.push.envelope_id = 8;
		note.u.push.envelope = req->u.send.envelope;
		note.u.push.envelope_len = req->u.send.envelope_len;
		(void)srv_send(fd, ws, &note);
		break;
	case PROTO_SENDER_CERTIFICATE:
		proto_response(&resp, req->type, req->id, 0);
		if (cert_make("alice@example.org", rp->client_static, 5000, rp->ed_sk,
		    resp.u.cert.cert, sizeof(resp.u.cert.cert), &resp.u.cert.len) != 0)
			resp.status = SOTTO_ERR_INTERNAL;
		(void)srv_send(fd, ws, &resp);
		break;
	case PROTO_RECEIVED:
		/* Never answered: the client's request times out. */
		break;
	default:
		proto_response(&resp, req->type, req->id, SOTTO_ERR_UNSUPPORTED);
		(void)srv_send(fd, ws, &resp);
		break;
	}
}

/* The server side: the same wire_session sottod uses, over a blocking socket. */
static void *
responder_main(void *arg)
{
	static uint8_t scratch[FRAME_MAX];
	static struct proto_msg req;
	struct responder *rp = arg;
	struct wire_session ws;
	struct noise_keypair kp;
	uint8_t in[3000];
	const uint8_t *m;
	struct buf out;
	size_t off, used, mlen;
	ssize_t n;
	int fd, r = 0;

	memset(&ws, 0, sizeof(ws));
	memset(&kp, 0, sizeof(kp));
	buf_init_dyn(&out, 1 << 16);
	if ((fd = accept(rp->lfd, NULL, NULL)) < 0)
		return NULL;
	if (rp->mode == 1 || rp->mode == 2) {
		static const char http[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

		if (rp->mode == 2)
			(void)send(fd, http, sizeof(http) - 1, MSG_NOSIGNAL);
		while (recv(fd, in, sizeof(in), 0) > 0)
			;
		close(fd);
		buf_free(&out);
		return NULL;
	}
	if (noise_keypair_from_ed25519(&kp, rp->ed_sk) != 0 ||
	    wire_session_init(&ws, &kp, scratch) != 0)
		goto done;
	frame_reasm_set_max(&ws.reasm, FRAME_MSG_MAX_DEFAULT);
	while (r >= 0 && (n = recv(fd, in, sizeof(in), 0)) > 0) {
		for (off = 0; off < (size_t)n && r >= 0; off += used) {
			r = wire_session_feed(&ws, in + off, (size_t)n - off, &used, &out, &m, &mlen);
			if (r < 0) {
				rp->hs_result = r;
				break;
			}
			if (srv_flush(fd, &out) != 0)
				r = SOTTO_ERR_IO;
			if (r == WIRE_HANDSHAKE_DONE) {
				rp->hs_result = 0;
				memcpy(rp->client_static, ws.peer_static, 32);
			}
			if (r == WIRE_MESSAGE) {
				if (proto_decode(m, mlen, &req) != 0) {
					r = SOTTO_ERR_PROTOCOL;
					break;
				}
				rp->requests++;
				respond(rp, fd, &ws, &req);
			}
		}
	}
	if (rp->hs_result == 1 && r >= 0)
		rp->hs_result = SOTTO_ERR_CLOSED;
done:
	wire_session_free(&ws);
	noise_keypair_wipe(&kp);
	buf_free(&out);
	close(fd);
	return NULL;
}

static int
responder_start(struct responder *rp, int mode)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(rp, 0, sizeof(*rp));
	rp->mode = mode;
	rp->hs_result = 1;
	crypto_sign_keypair(rp->ed_pk, rp->ed_sk);
	rp->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (rp->lfd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rp->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(rp->lfd, 4) != 0 ||
	    getsockname(rp->lfd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	rp->port = ntohs(sa.sin_port);
	return pthread_create(&rp->th, NULL, responder_main, rp);
}

static void
responder_join(struct responder *rp)
{
	pthread_join(rp->th, NULL);
	close(rp->lfd);
}

static void
address_for(const struct responder *rp, const uint8_t key[32], char *out, size_t cap)
{
	struct address_server a;

	memset(&a, 0, sizeof(a));
	memcpy(a.key, key, 32);
	strcpy(a.host, "127.0.0.1");
	a.port = rp->port;
	if (address_server_format(&a, out, cap) != 0)
		out[0] = '\0';
}

TEST(conn_requests_and_events)
{
	static struct responder rp;
	static struct proto_msg req, resp, ev;
	struct cert_sender cs;
	uint8_t dev_sk[32], dev_pk[32];
	char addr[ADDRESS_SERVER_MAX];
	struct conn *c = NULL;
	size_t i;

	REQUIRE(responder_start(&rp, 0) == 0);
	randombytes_buf(dev_sk, 32);
	crypto_scalarmult_base(dev_pk, dev_sk);
	address_for(&rp, rp.ed_pk, addr, sizeof(addr));
	CHECK_EQ_INT(conn_open(&c, addr, dev_sk, 5000), 0);
	if (c == NULL) {
		responder_join(&rp);
		return;
	}

	/* A request answered with an error, with two notices in front of the response. */
	memset(&req, 0, sizeof(req));
	req.type = PROTO_FETCH_BUNDLE;
	strcpy(req.u.fetch.address, "bob@example.org");
	CHECK_EQ_INT(conn_request(c, &req, &resp, 5000), 0);
	CHECK_EQ_INT(resp.type, PROTO_RESPONSE | PROTO_FETCH_BUNDLE);
	CHECK_EQ_INT(resp.id, req.id);
	CHECK(req.id != 0);
	CHECK_EQ_INT(resp.status, SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(conn_next_event(c, &ev, 1000), 0);
	CHECK_EQ_INT(ev.type, PROTO_PUSH);
	CHECK_EQ_INT(ev.u.push.envelope_id, 7);
	CHECK(ev.u.push.envelope_len == 6 && memcmp(ev.u.push.envelope, "sealed", 6) == 0);
	CHECK_EQ_INT(conn_next_event(c, &ev, 1000), 0);
	CHECK_EQ_INT(ev.type, PROTO_PREKEY_LOW);
	CHECK_EQ_INT(ev.u.prekey_low.count, 3);
	CHECK_EQ_INT(conn_next_event(c, &ev, 50), SOTTO_ERR_TIMEOUT);

	/* The largest envelope, in both directions across fragments. */
	for (i = 0; i < sizeof(big_envelope); i++)
		big_envelope[i] = (uint8_t)(i * 7);
	memset(&req, 0, sizeof(req));
	req.type = PROTO_SEND;
	strcpy(req.u.send.recipient, "bob@example.org");
	randombytes_buf(req.u.send.client_msg_id, 16);
	req.u.send.envelope = big_envelope;
	req.u.send.envelope_len = sizeof(big_envelope);
	CHECK_EQ_INT(conn_request(c, &req, &resp, 5000), 0);
	CHECK_EQ_INT(resp.status, 0);
	CHECK_EQ_INT(resp.u.sent.timestamp, 42);
	CHECK_EQ_INT(conn_next_event(c, &ev, 5000), 0);
	CHECK_EQ_INT(ev.type, PROTO_PUSH);
	CHECK_EQ_INT(ev.u.push.envelope_len, sizeof(big_envelope));
	CHECK(ev.u.push.envelope_len == sizeof(big_envelope) &&
	    memcmp(ev.u.push.envelope, big_envelope, sizeof(big_envelope)) == 0);

	/* A sender certificate for the device, verified with the pinned server key. */
	memset(&req, 0, sizeof(req));
	req.type = PROTO_SENDER_CERTIFICATE;
	CHECK_EQ_INT(conn_request(c, &req, &resp, 5000), 0);
	CHECK_EQ_INT(resp.status, 0);
	CHECK_EQ_INT(cert_verify(resp.u.cert.cert, resp.u.cert.len, rp.ed_pk, 4000, &cs), 0);
	CHECK_EQ_INT(cert_verify(resp.u.cert.cert, resp.u.cert.len, rp.ed_pk, 5000, &cs),
	    SOTTO_ERR_EXPIRED);

	/* An unanswered request times out and leaves the connection usable. */
	memset(&req, 0, sizeof(req));
	req.type = PROTO_RECEIVED;
	req.u.received.n = 1;
	req.u.received.ids[0] = 8;
	CHECK_EQ_INT(conn_request(c, &req, &resp, 100), SOTTO_ERR_TIMEOUT);
	memset(&req, 0, sizeof(req));
	req.type = PROTO_REGISTER;
	strcpy(req.u.reg.address, "alice@example.org");
	CHECK_EQ_INT(conn_request(c, &req, &resp, 5000), 0);
	CHECK_EQ_INT(resp.status, SOTTO_ERR_UNSUPPORTED);
	CHECK_EQ_INT(resp.type, PROTO_RESPONSE | PROTO_REGISTER);

	/* Notices and responses are not requests. */
	req.type = PROTO_PUSH;
	CHECK_EQ_INT(conn_request(c, &req, &resp, 100), SOTTO_ERR_INVALID_ARG);
	CHECK(conn_fd(c) >= 0);
	conn_close(c);
	responder_join(&rp);
	/* The server authenticated the device key. */
	CHECK_EQ_INT(rp.hs_result, 0);
	CHECK_MEM(rp.client_static, dev_pk, 32);
	CHECK_EQ_INT(rp.requests, 5);
}

TEST(conn_wrong_server_key_fails)
{
	static struct responder rp;
	uint8_t dev_sk[32], other_pk[32], other_sk[64];
	char addr[ADDRESS_SERVER_MAX];
	struct conn *c = NULL;

	REQUIRE(responder_start(&rp, 0) == 0);
	randombytes_buf(dev_sk, 32);
	crypto_sign_keypair(other_pk, other_sk);
	address_for(&rp, other_pk, addr, sizeof(addr));
	CHECK_EQ_INT(conn_open(&c, addr, dev_sk, 5000), SOTTO_ERR_AUTH);
	CHECK(c == NULL);
	responder_join(&rp);
	/* The server never learnt the client's static key. */
	CHECK(rp.hs_result != 0);
}

TEST(conn_timeout_and_refused)
{
	static struct responder rp;
	uint8_t dev_sk[32];
	char addr[ADDRESS_SERVER_MAX];
	struct conn *c = NULL;

	randombytes_buf(dev_sk, 32);
	REQUIRE(responder_start(&rp, 1) == 0);
	address_for(&rp, rp.ed_pk, addr, sizeof(addr));
	CHECK_EQ_INT(conn_open(&c, addr, dev_sk, 200), SOTTO_ERR_TIMEOUT);
	CHECK(c == NULL);
	responder_join(&rp);
	/* The listener is closed now: nothing listens on its port. */
	CHECK_EQ_INT(conn_open(&c, addr, dev_sk, 2000), SOTTO_ERR_UNREACHABLE);
	CHECK_EQ_INT(conn_open(&c, "sotto://nope@127.0.0.1:1", dev_sk, 100), SOTTO_ERR_MALFORMED);
	CHECK(c == NULL);
}

/* A port that answers in another protocol is told apart from a frame over a limit. */
TEST(conn_other_protocol_is_not_sotto)
{
	static struct responder rp;
	uint8_t dev_sk[32];
	char addr[ADDRESS_SERVER_MAX];
	struct conn *c = NULL;

	randombytes_buf(dev_sk, 32);
	REQUIRE(responder_start(&rp, 2) == 0);
	address_for(&rp, rp.ed_pk, addr, sizeof(addr));
	CHECK_EQ_INT(conn_open(&c, addr, dev_sk, 5000), SOTTO_ERR_NOT_SOTTO);
	CHECK(c == NULL);
	responder_join(&rp);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(conn_requests_and_events);
	RUN(conn_wrong_server_key_fails);
	RUN(conn_timeout_and_refused);
	RUN(conn_other_protocol_is_not_sotto);
	return check_summary();
}
