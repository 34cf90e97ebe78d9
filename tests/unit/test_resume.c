/*
 * Resumption (wire/ticket.h) against a real sottod: a known device logs in with
 * Noise_NNpsk0 and a ticket; every bad ticket is refused and the client falls back to XX.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "sotto/sotto.h"
#include "sottod_proc.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/proto.h"
#include "wire/ticket.h"

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Occurrences of needle in the server's log. */
static int
log_count(const struct sottod_proc *sp, const char *needle)
{
	static char text[1 << 20];
	char path[256];
	size_t n;
	const char *p;
	FILE *f;
	int count = 0;

	snprintf(path, sizeof(path), "%s/log", sp->dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		count++;
	return count;
}

/* Waits up to 3 s until needle occurs at least want times in the log. */
static int
log_wait(const struct sottod_proc *sp, const char *needle, int want)
{
	int i;

	for (i = 0; i < 300; i++) {
		if (log_count(sp, needle) >= want)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/* The server's ticket key as the test can use it: from DATA/ticket.key. */
static int
server_ticket_key(const struct sottod_proc *sp, struct ticket_key *k)
{
	struct address_server as;
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/ticket.key", sp->dir);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	n = fread(k->key, 1, sizeof(k->key), f);
	fclose(f);
	if (n != sizeof(k->key) || address_server_parse(sp->address, &as) != 0)
		return -1;
	memcpy(k->server_pk, as.key, 32);
	return 0;
}

/* Starts a server with open registration and registers u; u ends disconnected. */
static int
setup(struct sottod_proc *sp, const char *extra, struct test_user *u, const char *name)
{
	char conf[256];

	snprintf(conf, sizeof(conf), "registration = open\n%s", extra ? extra : "");
	if (sottod_proc_init(sp, conf) != 0 || sottod_proc_start(sp) != 0)
		return -1;
	test_user_new(u, name);
	if (test_user_register(u, sp, NULL) != 0)
		return -1;
	test_user_close(u);
	return 0;
}

/* A member-only request: proves the connection is logged in as a registered device. */
static int
member_request(struct conn *c)
{
	struct proto_msg req, resp;
	int r;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_SENDER_CERTIFICATE;
	if ((r = conn_request(c, &req, &resp, 5000)) != 0)
		return r;
	return resp.status;
}

TEST(resume_after_full_login)
{
	struct sottod_proc sp;
	struct test_user u;
	struct conn_ticket tk, first;
	struct conn *c = NULL;
	int i;

	REQUIRE(setup(&sp, NULL, &u, "alice") == 0);
	conn_ticket_wipe(&tk);
	/* No ticket yet: a full XX login, which hands out one. */
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 0);
	CHECK(tk.valid);
	CHECK(tk.expiry > (uint64_t)time(NULL) + 7 * 86400 - 60);
	CHECK(tk.expiry <= (uint64_t)time(NULL) + 7 * 86400);
	CHECK_EQ_INT(member_request(c), 0);
	conn_close(c);
	first = tk;
	/* Known device: NNpsk0 (e and ee only: no static key on either side), and a new ticket
	 * each time. */
	for (i = 0; i < 3; i++) {
		REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
		CHECK_EQ_INT(conn_resumed(c), 1);
		CHECK(tk.valid);
		CHECK(memcmp(tk.ticket, first.ticket, TICKET_LEN) != 0);
		CHECK(memcmp(tk.psk, first.psk, TICKET_PSK_LEN) != 0);
		CHECK_EQ_INT(member_request(c), 0);
		conn_close(c);
	}
	CHECK(log_wait(&sp, "alice@localhost connected (resumed)", 3));
	/* A ticket belongs to one device: another device's key does not use it. */
	{
		struct test_user o;

		test_user_new(&o, "other");
		REQUIRE(conn_open_resume(&c, sp.address, o.dev_sk, &tk, 5000) == 0);
		CHECK_EQ_INT(conn_resumed(c), 0);
		CHECK_EQ_INT(member_request(c), SOTTO_ERR_AUTH);
		/* An unregistered device gets no ticket. */
		CHECK(!tk.valid);
		conn_close(c);
	}
	conn_ticket_wipe(&tk);
	conn_ticket_wipe(&first);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* Logs in with tk (which must look usable to the client) and expects the server to refuse
 * it with reason in its log, and the client to fall back to a full login. */
static void
expect_fallback(struct sottod_proc *sp, struct test_user *u, struct conn_ticket *tk,
    const char *reason)
{
	struct conn *c = NULL;
	int before = log_count(sp, reason);

	REQUIRE(conn_open_resume(&c, sp->address, u->dev_sk, tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 0);
	CHECK_EQ_INT(member_request(c), 0);
	CHECK(tk->valid);       /* the full login's fresh ticket */
	conn_close(c);
	CHECK(log_wait(sp, reason, before + 1));
}

TEST(resume_refused_tickets_fall_back)
{
	struct sottod_proc sp;
	struct test_user u;
	struct conn_ticket tk, good;
	struct ticket_key k, other;
	struct ticket_contents tc;
	struct conn *c = NULL;

	REQUIRE(setup(&sp, NULL, &u, "bob") == 0);
	conn_ticket_wipe(&tk);
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	conn_close(c);
	REQUIRE(tk.valid);
	good = tk;
	REQUIRE(server_ticket_key(&sp, &k) == 0);

	/* A tampered ticket. */
	tk = good;
	tk.ticket[TICKET_NONCE_LEN + 5] ^= 0x01;
	expect_fallback(&sp, &u, &tk, "resumption ticket invalid");
	/* A tampered nonce. */
	tk = good;
	tk.ticket[0] ^= 0x80;
	expect_fallback(&sp, &u, &tk, "resumption ticket invalid");

	/* An expired ticket, sealed with the server's real key (the client thinks it live). */
	memset(&tc, 0, sizeof(tc));
	memcpy(tc.device_pk, u.dev_pk, 32);
	randombytes_buf(tc.psk, sizeof(tc.psk));
	tc.expiry = (uint64_t)time(NULL) - 1;
	tk = good;
	REQUIRE(ticket_seal(&k, &tc, tk.ticket) == 0);
	memcpy(tk.psk, tc.psk, sizeof(tk.psk));
	expect_fallback(&sp, &u, &tk, "resumption ticket expired");

	/* A ticket from another server: another ticket key (same server public key). */
	other = k;
	randombytes_buf(other.key, sizeof(other.key));
	tc.expiry = (uint64_t)time(NULL) + 3600;
	tk = good;
	REQUIRE(ticket_seal(&other, &tc, tk.ticket) == 0);
	memcpy(tk.psk, tc.psk, sizeof(tk.psk));
	expect_fallback(&sp, &u, &tk, "resumption ticket invalid");
	/* The right key but bound to another server public key. */
	other = k;
	other.server_pk[0] ^= 1;
	tk = good;
	REQUIRE(ticket_seal(&other, &tc, tk.ticket) == 0);
	memcpy(tk.psk, tc.psk, sizeof(tk.psk));
	expect_fallback(&sp, &u, &tk, "resumption ticket invalid");

	/* A genuine ticket with the wrong psk: msg 1 fails to decrypt. */
	tk = good;
	tk.psk[3] ^= 0x10;
	expect_fallback(&sp, &u, &tk, "resumption handshake failed (wrong psk)");

	/* The genuine ticket still works (tickets are reusable until they expire). */
	tk = good;
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 1);
	conn_close(c);

	/* A ticket of the device for its server only: a ticket held for another server
	 * address is not even tried. */
	tk = good;
	tk.server_pk[0] ^= 1;
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 0);
	conn_close(c);

	sodium_memzero(&k, sizeof(k));
	conn_ticket_wipe(&tk);
	conn_ticket_wipe(&good);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* A raw resumption on fd: sends frame1 (ticket || msg 1) and reads msg 2 into hs. */
static int
raw_resume(int fd, const uint8_t *frame1, size_t len, struct noise_hs *hs)
{
	uint8_t in[FRAME_HDR_LEN + TICKET_MSG2_LEN], pl[8];
	size_t got = 0, pn;
	ssize_t n;

	if (send(fd, frame1, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	while (got < sizeof(in)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 3000) != 1)
			return -2;
		if ((n = recv(fd, in + got, sizeof(in) - got, 0)) <= 0)
			return -3;
		got += (size_t)n;
	}
	if (in[0] != 0 || in[1] != TICKET_MSG2_LEN)
		return -4;
	if (hs == NULL)
		return 0;
	return noise_hs_read(hs, in + FRAME_HDR_LEN, TICKET_MSG2_LEN, pl, sizeof(pl), &pn);
}

/* Builds the resumption's first frame from a ticket, as the client does. */
static int
build_frame1(const struct conn_ticket *tk, struct noise_hs *hs, uint8_t *out, size_t *len)
{
	uint8_t prologue[sizeof(TICKET_PROLOGUE) - 1 + TICKET_LEN];
	size_t n;

	memcpy(prologue, TICKET_PROLOGUE, sizeof(TICKET_PROLOGUE) - 1);
	memcpy(prologue + sizeof(TICKET_PROLOGUE) - 1, tk->ticket, TICKET_LEN);
	if (noise_hs_init(hs, TICKET_PATTERN, 1, prologue, sizeof(prologue), NULL, NULL) != 0)
		return -1;
	noise_hs_set_psk(hs, tk->psk);
	out[0] = TICKET_FRAME1_LEN >> 8;
	out[1] = TICKET_FRAME1_LEN & 0xff;
	memcpy(out + FRAME_HDR_LEN, tk->ticket, TICKET_LEN);
	if (noise_hs_write(hs, NULL, 0, out + FRAME_HDR_LEN + TICKET_LEN, TICKET_MSG1_LEN,
	    &n) != 0 || n != TICKET_MSG1_LEN)
		return -1;
	*len = FRAME_HDR_LEN + TICKET_FRAME1_LEN;
	return 0;
}

/* Whether the server closed fd within 3 s. */
static int
closed_by_server(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t b[256];

	for (;;) {
		if (poll(&pfd, 1, 3000) != 1)
			return 0;
		if (recv(fd, b, sizeof(b), 0) <= 0)
			return 1;
	}
}

TEST(resume_replayed_msg1_does_not_log_in)
{
	struct sottod_proc sp;
	struct test_user u, v;
	struct conn_ticket tk;
	struct noise_hs hs;
	struct noise_transport t;
	struct proto_msg req, resp, ev;
	uint8_t frame1[FRAME_HDR_LEN + TICKET_FRAME1_LEN], env[40];
	struct buf plain, wire;
	size_t len;
	int r1, r2, r3;

	REQUIRE(setup(&sp, NULL, &u, "carol") == 0);
	test_user_new(&v, "dave");
	REQUIRE(test_user_register(&v, &sp, NULL) == 0);
	conn_ticket_wipe(&tk);
	REQUIRE(conn_open_resume(&u.c, sp.address, u.dev_sk, &tk, 5000) == 0);
	test_user_close(&u);
	REQUIRE(tk.valid);

	/* The genuine device resumes by hand and confirms with its first message. */
	REQUIRE(build_frame1(&tk, &hs, frame1, &len) == 0);
	REQUIRE((r1 = sottod_proc_connect_raw(&sp)) >= 0);
	REQUIRE(raw_resume(r1, frame1, len, &hs) == 0);
	REQUIRE(noise_hs_split(&hs, &t) == 0);
	noise_hs_wipe(&hs);
	memset(&req, 0, sizeof(req));
	req.type = PROTO_TICKET;
	req.id = 1;
	buf_init_dyn(&plain, 4096);
	buf_init_dyn(&wire, 8192);
	REQUIRE(proto_encode(&req, &plain) == 0);
	REQUIRE(frame_seal(&t, plain.p, plain.len, &wire) == 0);
	REQUIRE(send(r1, wire.p, wire.len, MSG_NOSIGNAL) == (ssize_t)wire.len);
	buf_free(&plain);
	buf_free(&wire);
	noise_transport_wipe(&t);
	CHECK(log_wait(&sp, "carol@localhost connected (resumed)", 1));
	close(r1);

	/* The device's current connection: a full login. */
	REQUIRE(test_user_connect(&u, &sp) == 0);
	CHECK(log_wait(&sp, "carol@localhost connected", 2));

	/* An eavesdropper replays msg 1: the server answers msg 2, but nothing logs in. */
	REQUIRE((r2 = sottod_proc_connect_raw(&sp)) >= 0);
	CHECK_EQ_INT(raw_resume(r2, frame1, len, NULL), 0);
	REQUIRE((r3 = sottod_proc_connect_raw(&sp)) >= 0);
	CHECK_EQ_INT(raw_resume(r3, frame1, len, NULL), 0);
	/* r2 sends a transport frame it could not have sealed: closed, with the reason. */
	{
		uint8_t junk[FRAME_HDR_LEN + 40];

		randombytes_buf(junk, sizeof(junk));
		junk[0] = 0;
		junk[1] = 40;
		REQUIRE(send(r2, junk, sizeof(junk), MSG_NOSIGNAL) == (ssize_t)sizeof(junk));
	}
	CHECK(closed_by_server(r2));
	CHECK(log_wait(&sp, "resumption not confirmed", 1));
	close(r2);

	/* r3 stays open and silent: the real connection still gets the pushes. */
	randombytes_buf(env, sizeof(env));
	memset(&req, 0, sizeof(req));
	req.type = PROTO_SEND;
	strcpy(req.u.send.recipient, u.address);
	randombytes_buf(req.u.send.client_msg_id, PROTO_MSG_ID_LEN);
	req.u.send.envelope = env;
	req.u.send.envelope_len = sizeof(env);
	REQUIRE(conn_request(v.c, &req, &resp, 5000) == 0);
	CHECK_EQ_INT(resp.status, 0);
	for (;;) {
		REQUIRE(conn_next_event(u.c, &ev, 5000) == 0);
		if (ev.type == PROTO_PUSH)
			break;
	}
	CHECK_EQ_INT(ev.u.push.envelope_len, sizeof(env));
	CHECK_MEM(ev.u.push.envelope, env, sizeof(env));
	CHECK_EQ_INT(member_request(u.c), 0);
	CHECK_EQ_INT(log_count(&sp, "carol@localhost connected (resumed)"), 1);
	close(r3);

	conn_ticket_wipe(&tk);
	test_user_close(&u);
	test_user_close(&v);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* A server with user name, which logs in once and keeps the ticket it gets (*tk); then the
 * server restarts with conf_line added to sottod.conf. 0 or -1. */
static int
ticket_then_restart(struct sottod_proc *sp, struct test_user *u, const char *name,
    struct conn_ticket *tk, const char *conf_line)
{
	struct conn *c = NULL;
	char path[256];
	FILE *f;

	if (setup(sp, NULL, u, name) != 0)
		return -1;
	conn_ticket_wipe(tk);
	if (conn_open_resume(&c, sp->address, u->dev_sk, tk, 5000) != 0)
		return -1;
	conn_close(c);
	if (!tk->valid || sottod_proc_stop(sp, SIGTERM) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/sottod.conf", sp->dir);
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fputs(conf_line, f);
	if (fclose(f) != 0)
		return -1;
	return sottod_proc_start(sp);
}

TEST(resume_disabled_by_config)
{
	struct sottod_proc sp;
	struct test_user u;
	struct conn_ticket tk;
	struct conn *c = NULL;

	/* A genuine ticket from while resumption was on. */
	REQUIRE(ticket_then_restart(&sp, &u, "erin", &tk, "ticket_lifetime = 0\n") == 0);

	/* Refused (the first frame's size is not accepted): the client falls back, and no
	 * new ticket is issued. */
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 0);
	CHECK(!tk.valid);
	CHECK_EQ_INT(member_request(c), 0);
	conn_close(c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * Lowering ticket_lifetime shortens the tickets already issued: one that would still live
 * longer than the new lifetime is refused (the client falls back and gets a ticket of the
 * new lifetime, which then resumes).
 */
TEST(resume_lifetime_lowered_refuses_longer_tickets)
{
	struct sottod_proc sp;
	struct test_user u;
	struct conn_ticket tk;
	struct conn *c = NULL;

	/* A ticket of the default lifetime (7 days), then the lifetime lowered to an hour. */
	REQUIRE(ticket_then_restart(&sp, &u, "frank", &tk, "ticket_lifetime = 3600\n") == 0);
	CHECK(tk.expiry > (uint64_t)time(NULL) + 86400);

	expect_fallback(&sp, &u, &tk, "resumption ticket outlives ticket_lifetime");
	CHECK(tk.expiry <= (uint64_t)time(NULL) + 3600);
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 1);
	CHECK_EQ_INT(member_request(c), 0);
	conn_close(c);
	conn_ticket_wipe(&tk);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(resume_ticket_survives_restart)
{
	struct sottod_proc sp;
	struct test_user u;
	struct conn_ticket tk;
	struct conn *c = NULL;

	REQUIRE(setup(&sp, NULL, &u, "frank") == 0);
	conn_ticket_wipe(&tk);
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	conn_close(c);
	REQUIRE(tk.valid);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(conn_open_resume(&c, sp.address, u.dev_sk, &tk, 5000) == 0);
	CHECK_EQ_INT(conn_resumed(c), 1);
	CHECK_EQ_INT(member_request(c), 0);
	conn_close(c);
	conn_ticket_wipe(&tk);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* libsotto keeps the ticket in its encrypted store: the next process resumes. */
TEST(resume_across_processes_through_the_store)
{
	struct sottod_proc sp;
	struct sotto *s = NULL;
	char home[256];

	REQUIRE(sottod_proc_init(&sp, "registration = open") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	snprintf(home, sizeof(home), "%s/client", sp.dir);
	REQUIRE(sotto_create(&s, home, (const uint8_t *)"pw", 2, SOTTO_KDF_MIN) == 0);
	REQUIRE(sotto_init(s, "gina@localhost", sp.address, NULL, 5000) == 0);
	/* Registered on a guest connection: the ticket comes with the next login. */
	sotto_disconnect(s);
	REQUIRE(sotto_connect(s, 5000) == 0);
	CHECK(log_wait(&sp, "gina@localhost connected", 2));
	CHECK_EQ_INT(log_count(&sp, "gina@localhost connected (resumed)"), 0);
	/* The same object reconnecting resumes (the daemon and the bridge). */
	sotto_disconnect(s);
	REQUIRE(sotto_connect(s, 5000) == 0);
	CHECK(log_wait(&sp, "gina@localhost connected (resumed)", 1));
	sotto_close(s);
	s = NULL;
	/* A new process: the ticket comes from the store. */
	REQUIRE(sotto_open(&s, home, (const uint8_t *)"pw", 2) == 0);
	REQUIRE(sotto_connect(s, 5000) == 0);
	CHECK(log_wait(&sp, "gina@localhost connected (resumed)", 2));
	sotto_close(s);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* Unit checks of the ticket format itself. */
TEST(ticket_seal_open)
{
	struct ticket_key k;
	struct ticket_contents tc, out;
	uint8_t t[TICKET_LEN], dev[32];
	const uint8_t *tp, *mp;
	uint8_t frame[TICKET_FRAME1_LEN];

	randombytes_buf(&k, sizeof(k));
	randombytes_buf(dev, sizeof(dev));
	CHECK_EQ_INT(ticket_issue(&k, dev, 0, 1000, t, &tc), SOTTO_ERR_UNSUPPORTED);
	REQUIRE(ticket_issue(&k, dev, 60, 1000, t, &tc) == 0);
	CHECK_EQ_INT(tc.expiry, 1060);
	CHECK_MEM(tc.device_pk, dev, 32);
	REQUIRE(ticket_open(&k, t, sizeof(t), 1059, &out) == 0);
	CHECK_MEM(out.psk, tc.psk, 32);
	CHECK_MEM(out.device_pk, dev, 32);
	CHECK_EQ_INT(out.expiry, 1060);
	CHECK_EQ_INT(ticket_open(&k, t, sizeof(t), 1060, &out), SOTTO_ERR_EXPIRED);
	CHECK_EQ_INT(out.expiry, 0);
	CHECK_EQ_INT(ticket_open(&k, t, sizeof(t) - 1, 1000, &out), SOTTO_ERR_TRUNCATED);
	t[TICKET_LEN - 1] ^= 1;
	CHECK_EQ_INT(ticket_open(&k, t, sizeof(t), 1000, &out), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(ticket_frame1_parse(frame, sizeof(frame), &tp, &mp), 0);
	CHECK(tp == frame && mp == frame + TICKET_LEN);
	CHECK(ticket_frame1_parse(frame, sizeof(frame) - 1, &tp, &mp) != 0);
	CHECK_EQ_INT(TICKET_LEN, 112);
	CHECK_EQ_INT(TICKET_FRAME1_LEN, 160);
	ticket_contents_wipe(&tc);
	ticket_contents_wipe(&out);
	sodium_memzero(&k, sizeof(k));
}

/* The server's first frame: exactly the XX msg 1 or the resumption size, from the header. */
TEST(first_frame_sizes)
{
	static const size_t sizes[] = { 0, 1, 31, 33, 48, 159, 161, 65535 };
	uint8_t in[2 + TICKET_FRAME1_LEN] = { 0 };
	struct frame_decoder d;
	const uint8_t *f;
	size_t used, flen, i;

	for (i = 0; i < 2; i++) {
		size_t len = i == 0 ? NOISE_SOTTO_MSG1_LEN : TICKET_FRAME1_LEN;

		frame_decoder_init(&d);
		frame_decoder_expect2(&d, NOISE_SOTTO_MSG1_LEN, TICKET_FRAME1_LEN);
		in[0] = (uint8_t)(len >> 8);
		in[1] = (uint8_t)len;
		CHECK_EQ_INT(frame_decoder_feed(&d, in, 2 + len, &used, &f, &flen), 1);
		CHECK_EQ_INT(flen, len);
		frame_decoder_free(&d);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		frame_decoder_init(&d);
		frame_decoder_expect2(&d, NOISE_SOTTO_MSG1_LEN, TICKET_FRAME1_LEN);
		in[0] = (uint8_t)(sizes[i] >> 8);
		in[1] = (uint8_t)sizes[i];
		CHECK(frame_decoder_feed(&d, in, 2, &used, &f, &flen) < 0);
		frame_decoder_free(&d);
	}
	/* Without resumption the resumption size is refused too. */
	frame_decoder_init(&d);
	frame_decoder_expect(&d, NOISE_SOTTO_MSG1_LEN);
	in[0] = 0;
	in[1] = TICKET_FRAME1_LEN;
	CHECK(frame_decoder_feed(&d, in, 2, &used, &f, &flen) < 0);
	frame_decoder_free(&d);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(ticket_seal_open);
	RUN(first_frame_sizes);
	RUN(resume_after_full_login);
	RUN(resume_refused_tickets_fall_back);
	RUN(resume_replayed_msg1_does_not_log_in);
	RUN(resume_disabled_by_config);
	RUN(resume_lifetime_lowered_refuses_longer_tickets);
	RUN(resume_ticket_survives_restart);
	RUN(resume_across_processes_through_the_store);
	return check_summary();
}
