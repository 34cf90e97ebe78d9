/* sottod against hostile or broken clients, limits, reload and bad databases. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"
#include "wire/frame.h"
#include "wire/noise.h"

static struct proto_msg req, resp;

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
read_exact(int fd, void *p, size_t n, int timeout_ms)
{
	uint8_t *b = p;

	while (n > 0) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t k;
		if (poll(&pf, 1, timeout_ms) <= 0)
			return -1;
		k = read(fd, b, n);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* 1 if the server closed the connection within timeout_ms (EOF or reset). */
static int
closed_by_server(int fd, int timeout_ms)
{
	uint8_t tmp[4096];

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t k;
		if (poll(&pf, 1, timeout_ms) <= 0)
			return 0;
		k = read(fd, tmp, sizeof(tmp));
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return 1;
		if (k < 0)
			return 0;
	}
}

/* A raw client: the Noise handshake done by hand, so the test can then send anything. */
static int
raw_handshake(const struct sottod_proc *sp, const uint8_t dev_sk[32], struct noise_transport *t)
{
	struct address_server as;
	struct noise_hs hs;
	uint8_t msg[128], frame[130], pl[8];
	size_t n;
	int fd;

	if (address_server_parse(sp->address, &as) != 0 ||
	    (fd = sottod_proc_connect_raw(sp)) < 0)
		return -1;
	if (noise_sotto_initiator(&hs, dev_sk, as.key) != 0 ||
	    noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n) != 0)
		goto fail;
	frame[0] = 0, frame[1] = (uint8_t)n;
	memcpy(frame + 2, msg, n);
	if (write_all(fd, frame, n + 2) != 0 || read_exact(fd, frame, 2 + 96, 3000) != 0 ||
	    noise_hs_read(&hs, frame + 2, 96, pl, 0, &n) != 0 ||
	    noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n) != 0)
		goto fail;
	frame[0] = 0, frame[1] = (uint8_t)n;
	memcpy(frame + 2, msg, n);
	if (write_all(fd, frame, n + 2) != 0 || noise_hs_split(&hs, t) != 0)
		goto fail;
	noise_hs_wipe(&hs);
	return fd;
fail:
	noise_hs_wipe(&hs);
	close(fd);
	return -1;
}

static int
send_sealed(int fd, struct noise_transport *t, const uint8_t *msg, size_t len)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, 1u << 22);
	if ((r = frame_seal(t, msg, len, &b)) == 0)
		r = write_all(fd, b.p, b.len);
	buf_free(&b);
	return r;
}

static int
cert_request(struct test_user *u)
{
	memset(&req, 0, sizeof(req));
	req.type = PROTO_SENDER_CERTIFICATE;
	if (conn_request(u->c, &req, &resp, 5000) != 0)
		return -1000;
	return resp.status;
}

TEST(malformed_and_oversized_input_closes_only_that_connection)
{
	struct sottod_proc sp;
	struct test_user good, g;
	struct noise_transport t;
	uint8_t junk[200], hdr[2];
	static uint8_t big[20000];
	int fd;

	REQUIRE(sottod_proc_init(&sp, "registration = open") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	test_user_new(&good, "good");
	REQUIRE(test_user_register(&good, &sp, NULL) == 0);

	/* Garbage before the handshake. */
	REQUIRE((fd = sottod_proc_connect_raw(&sp)) >= 0);
	randombytes_buf(junk, sizeof(junk));
	junk[0] = 0, junk[1] = 32;
	(void)write_all(fd, junk, sizeof(junk));
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* A length that is not the handshake's exact size, refused from its 2 bytes. */
	REQUIRE((fd = sottod_proc_connect_raw(&sp)) >= 0);
	hdr[0] = 0xff, hdr[1] = 0xff;
	(void)write_all(fd, hdr, 2);
	CHECK(closed_by_server(fd, 3000));
	close(fd);

	test_user_new(&g, "guest");
	/* After the handshake: a frame that fails authentication. */
	REQUIRE((fd = raw_handshake(&sp, g.dev_sk, &t)) >= 0);
	junk[0] = 0, junk[1] = 100;
	(void)write_all(fd, junk, 102);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* A well-encrypted message that is not a request. */
	REQUIRE((fd = raw_handshake(&sp, g.dev_sk, &t)) >= 0);
	CHECK_EQ_INT(send_sealed(fd, &t, junk + 2, 50), 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* An unknown protocol version. */
	REQUIRE((fd = raw_handshake(&sp, g.dev_sk, &t)) >= 0);
	{
		uint8_t m[6] = { 99, PROTO_SENDER_CERTIFICATE, 0, 0, 0, 1 };
		CHECK_EQ_INT(send_sealed(fd, &t, m, sizeof(m)), 0);
	}
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* Before registration messages are capped small: 20000 bytes closes the connection. */
	REQUIRE((fd = raw_handshake(&sp, g.dev_sk, &t)) >= 0);
	memset(big, 0, sizeof(big));
	big[0] = PROTO_VERSION, big[1] = PROTO_REGISTER, big[5] = 1;
	CHECK_EQ_INT(send_sealed(fd, &t, big, sizeof(big)), 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* A truncated frame followed by a hang-up. */
	REQUIRE((fd = raw_handshake(&sp, g.dev_sk, &t)) >= 0);
	(void)write_all(fd, junk, 20);
	close(fd);

	/* Through all of it the registered client is served. */
	CHECK_EQ_INT(cert_request(&good), 0);
	test_user_close(&good);
	/* The server is still healthy and exits cleanly. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(rate_limits_per_connection_account_and_guest)
{
	struct sottod_proc sp;
	struct test_user a, a2, g;
	struct noise_transport t;
	int ok = 0, limited = 0, fd;

	REQUIRE(sottod_proc_init(&sp, "registration = open\nconn_rate = 1\nconn_burst = 5\n"
	    "account_rate = 1\naccount_burst = 8\nconn_rate_preauth = 1") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	test_user_new(&a, "alice");
	REQUIRE(test_user_register(&a, &sp, NULL) == 0);
	for (int i = 0; i < 10; i++) {
		int r = cert_request(&a);
		ok += r == 0;
		limited += r == SOTTO_ERR_LIMIT;
	}
	/* The REGISTER came out of the guest budget; 5 of 10 pass the connection bucket. */
	CHECK(ok >= 5 && ok <= 6);
	CHECK_EQ_INT(ok + limited, 10);
	/* A second connection of the same account has its own connection bucket but shares the
	 * account's, which has about 3 left. */
	a2 = a;
	a2.c = NULL;
	REQUIRE(test_user_connect(&a2, &sp) == 0);
	ok = limited = 0;
	for (int i = 0; i < 5; i++) {
		int r = cert_request(&a2);
		ok += r == 0;
		limited += r == SOTTO_ERR_LIMIT;
	}
	CHECK(ok >= 2 && ok <= 4);
	CHECK(limited >= 1);
	/* A guest that keeps sending is disconnected. */
	test_user_new(&g, "guest");
	REQUIRE((fd = raw_handshake(&sp, g.dev_sk, &t)) >= 0);
	for (int i = 0; i < 5; i++) {
		uint8_t m[6] = { PROTO_VERSION, PROTO_SENDER_CERTIFICATE, 0, 0, 0, (uint8_t)(i + 1) };
		if (send_sealed(fd, &t, m, sizeof(m)) != 0)
			break;
	}
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	test_user_close(&a);
	test_user_close(&a2);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(connection_limits_and_timeouts)
{
	struct sottod_proc sp;
	struct test_user u[4];
	struct noise_transport t;
	int fd;

	REQUIRE(sottod_proc_init(&sp, "registration = open\nmax_conns_per_addr = 3\n"
	    "handshake_timeout_ms = 1000\nidle_timeout_ms = 600") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "user%d", i);
		test_user_new(&u[i], name);
	}
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(test_user_connect(&u[i], &sp), 0);
	/* The fourth from the same address is turned away... */
	CHECK(test_user_connect(&u[3], &sp) != 0);
	/* ...until one closes. */
	test_user_close(&u[0]);
	usleep(100 * 1000);
	CHECK_EQ_INT(test_user_connect(&u[3], &sp), 0);
	for (int i = 0; i < 4; i++)
		test_user_close(&u[i]);
	usleep(100 * 1000);
	/* A client that never finishes its handshake is dropped. */
	REQUIRE((fd = sottod_proc_connect_raw(&sp)) >= 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* An unregistered device is dropped after handshake_timeout_ms... */
	REQUIRE((fd = raw_handshake(&sp, u[0].dev_sk, &t)) >= 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* ...and a registered one after idle_timeout_ms without requests. */
	REQUIRE(test_user_register(&u[0], &sp, NULL) == 0);
	usleep(300 * 1000);
	CHECK_EQ_INT(cert_request(&u[0]), 0);   /* activity restarts the clock */
	usleep(400 * 1000);
	CHECK_EQ_INT(cert_request(&u[0]), 0);
	CHECK(closed_by_server(conn_fd(u[0].c), 3000));
	test_user_close(&u[0]);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(total_connection_limit)
{
	struct sottod_proc sp;
	struct test_user u[3];

	REQUIRE(sottod_proc_init(&sp, "registration = open\nmax_conns = 2") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "user%d", i);
		test_user_new(&u[i], name);
	}
	CHECK_EQ_INT(test_user_register(&u[0], &sp, NULL), 0);
	CHECK_EQ_INT(test_user_register(&u[1], &sp, NULL), 0);
	CHECK(test_user_register(&u[2], &sp, NULL) != 0);
	test_user_close(&u[2]);
	/* The two admitted clients are unaffected. */
	CHECK_EQ_INT(cert_request(&u[0]), 0);
	CHECK_EQ_INT(cert_request(&u[1]), 0);
	test_user_close(&u[1]);
	usleep(100 * 1000);
	CHECK_EQ_INT(test_user_register(&u[2], &sp, NULL), 0);
	for (int i = 0; i < 3; i++)
		test_user_close(&u[i]);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(sighup_reloads_config)
{
	struct sottod_proc sp;
	struct test_user a;
	char path[256];
	FILE *f;

	REQUIRE(sottod_proc_init(&sp, "registration = invite") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	test_user_new(&a, "alice");
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), SOTTO_ERR_AUTH);
	snprintf(path, sizeof(path), "%s/sottod.conf", sp.dir);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("listen = 127.0.0.1:0\nregistration = open\n", f);
	fclose(f);
	kill(sp.pid, SIGHUP);
	usleep(300 * 1000);
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), 0);
	/* A broken file on reload keeps the running settings. */
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("registration = sometimes\n", f);
	fclose(f);
	kill(sp.pid, SIGHUP);
	usleep(200 * 1000);
	CHECK_EQ_INT(cert_request(&a), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(corrupt_or_missing_database_refuses_to_start)
{
	struct sottod_proc sp;
	char path[256];
	int fd;

	REQUIRE(sottod_proc_init(&sp, NULL) == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	snprintf(path, sizeof(path), "%s/sottod.db", sp.dir);
	REQUIRE((fd = open(path, O_WRONLY)) >= 0);
	REQUIRE(pwrite(fd, "garbage!garbage!", 16, 0) == 16);
	close(fd);
	CHECK(sottod_proc_start(&sp) != 0);
	CHECK_EQ_INT(sp.exit_status, 4);
	/* Still the damaged file: not replaced by a fresh database. */
	{
		char head[16];
		REQUIRE((fd = open(path, O_RDONLY)) >= 0);
		CHECK(read(fd, head, 16) == 16 && memcmp(head, "garbage!", 8) == 0);
		close(fd);
	}
	/* Key present, database gone: refused too. */
	unlink(path);
	CHECK(sottod_proc_start(&sp) != 0);
	CHECK_EQ_INT(sp.exit_status, 4);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(malformed_and_oversized_input_closes_only_that_connection);
	RUN(rate_limits_per_connection_account_and_guest);
	RUN(connection_limits_and_timeouts);
	RUN(total_connection_limit);
	RUN(sighup_reloads_config);
	RUN(corrupt_or_missing_database_refuses_to_start);
	return check_summary();
}
