/* sottod against hostile or broken clients, limits, reload and bad databases. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"
#include "wire/frame.h"
#include "wire/noise.h"

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

static int
send_sealed(int fd, struct noise_transport *t, const uint8_t *msg, size_t len)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, 1u << 22);
	if ((r = frame_seal(t, msg, len, &b)) == 0)
		r = sottod_proc_write_all(fd, b.p, b.len);
	buf_free(&b);
	return r;
}

/* The server notices closed connections and reloads asynchronously: retry for a while. */
static int
retry_connect(struct test_user *u, const struct sottod_proc *sp)
{
	int r = -1;

	for (int i = 0; i < 40 && r != 0; i++) {
		if ((r = test_user_connect(u, sp)) != 0)
			usleep(50 * 1000);
	}
	return r;
}

static int
retry_register(struct test_user *u, const struct sottod_proc *sp)
{
	int r = -1;

	for (int i = 0; i < 12 && r != 0; i++) {
		if ((r = test_user_register(u, sp, NULL)) != 0) {
			test_user_close(u);     /* a fresh connection, a fresh guest budget */
			usleep(250 * 1000);
		}
	}
	return r;
}

TEST(malformed_and_oversized_input_closes_only_that_connection)
{
	struct sottod_proc sp;
	struct test_user good, g;
	struct noise_transport t;
	uint8_t junk[200], hdr[2];
	static uint8_t big[20000];
	int fd;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&good, &sp, "good") == 0);

	/* Garbage before the handshake. */
	REQUIRE((fd = sottod_proc_connect_raw(&sp)) >= 0);
	randombytes_buf(junk, sizeof(junk));
	junk[0] = 0, junk[1] = 32;
	(void)sottod_proc_write_all(fd, junk, sizeof(junk));
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* A length that is not the handshake's exact size, refused from its 2 bytes. */
	REQUIRE((fd = sottod_proc_connect_raw(&sp)) >= 0);
	hdr[0] = 0xff, hdr[1] = 0xff;
	(void)sottod_proc_write_all(fd, hdr, 2);
	CHECK(closed_by_server(fd, 3000));
	close(fd);

	test_user_new(&g, "guest");
	/* After the handshake: a frame that fails authentication. */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, g.dev_sk, &t)) >= 0);
	junk[0] = 0, junk[1] = 100;
	(void)sottod_proc_write_all(fd, junk, 102);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* A well-encrypted message that is not a request. */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, g.dev_sk, &t)) >= 0);
	CHECK_EQ_INT(send_sealed(fd, &t, junk + 2, 50), 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* An unknown protocol version. */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, g.dev_sk, &t)) >= 0);
	{
		uint8_t m[6] = { 99, PROTO_SENDER_CERTIFICATE, 0, 0, 0, 1 };
		CHECK_EQ_INT(send_sealed(fd, &t, m, sizeof(m)), 0);
	}
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* Before registration messages are capped small: 20000 bytes closes the connection. */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, g.dev_sk, &t)) >= 0);
	memset(big, 0, sizeof(big));
	big[0] = PROTO_VERSION, big[1] = PROTO_REGISTER, big[5] = 1;
	CHECK_EQ_INT(send_sealed(fd, &t, big, sizeof(big)), 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* A truncated frame followed by a hang-up. */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, g.dev_sk, &t)) >= 0);
	(void)sottod_proc_write_all(fd, junk, 20);
	close(fd);

	/* Through all of it the registered client is served. */
	CHECK_EQ_INT(test_user_cert(&good), 0);
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

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nconn_rate = 1\nconn_burst = 5\n"
	    "account_rate = 1\naccount_burst = 8\nconn_rate_preauth = 1") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	for (int i = 0; i < 10; i++) {
		int r = test_user_cert(&a);
		ok += r == 0;
		limited += r == SOTTO_ERR_LIMIT;
	}
	/* The REGISTER came out of the guest budget; 5 of 10 pass the connection bucket (one
	 * more per second the requests take, on a slow machine). */
	CHECK(ok >= 5 && ok <= 7);
	CHECK_EQ_INT(ok + limited, 10);
	/* A second connection of the same account has its own connection bucket but shares the
	 * account's, which has about 3 left. */
	a2 = a;
	a2.c = NULL;
	REQUIRE(test_user_connect(&a2, &sp) == 0);
	ok = limited = 0;
	for (int i = 0; i < 5; i++) {
		int r = test_user_cert(&a2);
		ok += r == 0;
		limited += r == SOTTO_ERR_LIMIT;
	}
	CHECK(ok >= 2 && ok <= 5);
	CHECK(limited >= 1);
	/* A guest that keeps sending is disconnected. */
	test_user_new(&g, "guest");
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, g.dev_sk, &t)) >= 0);
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

/*
 * A backlog far larger than write_queue_max is pushed as the client reads it: in order,
 * without dropping the owner, and a request made meanwhile is answered. A client that
 * sends requests and never reads is still cut off by the write queue cap.
 */
TEST(push_backlog_is_flow_controlled_and_non_readers_are_cut_off)
{
	struct sottod_proc sp;
	struct test_user bob, alice, carol;
	struct noise_transport t;
	static uint8_t env[60 * 1024];
	uint64_t last = 0, id;
	int i, sent = 0, got = 0, in_order = 1, content_ok = 1, rcv = 4096, fd;

	/* Smallest queue the config allows for 64 KiB envelopes: 2 * 65536 + 8192. */
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nwrite_queue_max = 139264\n") == 0);
	REQUIRE(test_user_join(&bob, &sp, "bob") == 0);
	REQUIRE(test_user_join(&alice, &sp, "alice") == 0);
	REQUIRE(test_user_join(&carol, &sp, "carol") == 0);
	test_user_close(&bob);
	test_user_close(&carol);
	for (i = 0; i < 40; i++) {
		env[0] = (uint8_t)i;
		if (test_user_send(&alice, "bob@localhost", NULL, env, sizeof(env)) != 0)
			break;
		sent++;
	}
	REQUIRE(sent == 40);                    /* 2.4 MiB against a 136 KiB write queue */
	REQUIRE(test_user_connect(&bob, &sp) == 0);
	usleep(300 * 1000);                     /* the server pushes until the socket is full */
	CHECK_EQ_INT(test_user_cert(&bob), 0);    /* answered behind the pushes, not dropped */
	while (got < sent) {
		if (test_user_next_push(&bob, 5000) != 0)
			break;
		id = bob.ev.u.push.envelope_id;
		in_order &= id > last;
		content_ok &= bob.ev.u.push.envelope_len == sizeof(env) &&
		    bob.ev.u.push.envelope[0] == (uint8_t)got;
		last = id;
		got++;
		if (test_user_received(&bob, &id, 1) != 0)
			break;
	}
	CHECK_EQ_INT(got, sent);
	CHECK(in_order);
	CHECK(content_ok);
	/* Carol pipelines requests and reads none of the answers: dropped at the cap. */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, carol.dev_sk, &t)) >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	for (i = 0; i < 3000; i++) {
		uint8_t m[6] = { PROTO_VERSION, PROTO_SENDER_CERTIFICATE, 0, 0,
		    (uint8_t)((i + 1) >> 8), (uint8_t)(i + 1) };
		if (send_sealed(fd, &t, m, sizeof(m)) != 0)
			break;
	}
	usleep(300 * 1000);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	CHECK_EQ_INT(test_user_cert(&alice), 0);
	test_user_close(&bob);
	test_user_close(&alice);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(connection_limits_and_timeouts)
{
	struct sottod_proc sp;
	struct test_user u[4];
	struct noise_transport t;
	int fd;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmax_conns_per_addr = 3\n"
	    "handshake_timeout_ms = 1000\nidle_timeout_ms = 1000") == 0);
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
	CHECK_EQ_INT(retry_connect(&u[3], &sp), 0);
	for (int i = 0; i < 4; i++)
		test_user_close(&u[i]);
	usleep(200 * 1000);
	/* A client that never finishes its handshake is dropped. */
	REQUIRE((fd = sottod_proc_connect_raw(&sp)) >= 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* An unregistered device is dropped after handshake_timeout_ms... */
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, u[0].dev_sk, &t)) >= 0);
	CHECK(closed_by_server(fd, 3000));
	close(fd);
	/* ...and a registered one after idle_timeout_ms without requests. */
	REQUIRE(retry_register(&u[0], &sp) == 0);
	usleep(500 * 1000);
	CHECK_EQ_INT(test_user_cert(&u[0]), 0);   /* activity restarts the clock */
	usleep(600 * 1000);
	CHECK_EQ_INT(test_user_cert(&u[0]), 0);
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

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmax_conns = 2") == 0);
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
	CHECK_EQ_INT(test_user_cert(&u[0]), 0);
	CHECK_EQ_INT(test_user_cert(&u[1]), 0);
	test_user_close(&u[1]);
	CHECK_EQ_INT(retry_register(&u[2], &sp), 0);
	for (int i = 0; i < 3; i++)
		test_user_close(&u[i]);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * Out of file descriptors (an open-file limit far below max_conns, and a flood of
 * connections): the connections beyond the limit are accepted and closed, the loop does
 * not spin on accept's EMFILE (before, it logged "accept: too many open files" without
 * end and could not even be stopped by SIGTERM), and once the flood ends a client logs in.
 */
TEST(out_of_descriptors_sheds_connections)
{
	struct sottod_proc sp;
	struct test_user u;
	int fds[120], n = 0, shut = 0;

	REQUIRE(sottod_proc_init(&sp, "registration = open\nmax_conns = 1000\n"
	    "max_conns_per_addr = 1000") == 0);
	sp.nofile = 48;
	REQUIRE(sottod_proc_start(&sp) == 0);
	for (int wave = 0; wave < 4; wave++) {
		for (int i = 0; i < 30; i++) {
			int fd = sottod_proc_connect_raw(&sp);
			if (fd >= 0)
				fds[n++] = fd;
		}
		usleep(200 * 1000);
	}
	for (int i = 0; i < n; i++)
		shut += closed_by_server(fds[i], 50);
	CHECK(shut > 0);
	CHECK(n - shut < 48);
	CHECK(sottod_proc_log_lines(&sp, "out of file descriptors") >= 1);
	CHECK_EQ_INT(sottod_proc_log_lines(&sp, "accept: too many open files"), 0);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	test_user_new(&u, "after");
	CHECK_EQ_INT(retry_register(&u, &sp), 0);
	test_user_close(&u);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * accept_rate: new connections per second from one address, after a burst of
 * accept_burst. The ones over it are closed at once, the admitted ones are served, and a
 * client gets in again as the rate allows.
 */
TEST(connection_rate_per_address_closes_the_excess)
{
	struct sottod_proc sp;
	struct test_user u;
	int fds[10], shut = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\naccept_rate = 1\n"
	    "accept_burst = 3") == 0);
	for (int i = 0; i < 10; i++)
		fds[i] = sottod_proc_connect_raw(&sp);
	for (int i = 0; i < 10; i++)
		shut += fds[i] >= 0 && closed_by_server(fds[i], 300);
	/* Ten within a moment: three of the burst, and one a second. */
	CHECK(shut >= 5);
	CHECK(shut <= 7);
	CHECK_EQ_INT(sottod_proc_log_lines(&sp, "connection rate from this address exceeded"), shut);
	for (int i = 0; i < 10; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	test_user_new(&u, "later");
	CHECK_EQ_INT(retry_register(&u, &sp), 0);
	test_user_close(&u);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(sighup_reloads_config)
{
	struct sottod_proc sp;
	struct test_user a;
	char path[256];
	FILE *f;

	REQUIRE(sottod_proc_launch(&sp, "registration = invite") == 0);
	test_user_new(&a, "alice");
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), SOTTO_ERR_AUTH);
	snprintf(path, sizeof(path), "%s/sottod.conf", sp.dir);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("listen = 127.0.0.1:0\nregistration = open\n", f);
	fclose(f);
	kill(sp.pid, SIGHUP);
	CHECK_EQ_INT(retry_register(&a, &sp), 0);
	/* A broken file on reload keeps the running settings. */
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("registration = sometimes\n", f);
	fclose(f);
	kill(sp.pid, SIGHUP);
	usleep(200 * 1000);
	CHECK_EQ_INT(test_user_cert(&a), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(corrupt_or_missing_database_refuses_to_start)
{
	struct sottod_proc sp;
	char path[256];
	int fd;

	REQUIRE(sottod_proc_launch(&sp, NULL) == 0);
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
	RUN(push_backlog_is_flow_controlled_and_non_readers_are_cut_off);
	RUN(connection_limits_and_timeouts);
	RUN(total_connection_limit);
	RUN(out_of_descriptors_sheds_connections);
	RUN(connection_rate_per_address_closes_the_excess);
	RUN(sighup_reloads_config);
	RUN(corrupt_or_missing_database_refuses_to_start);
	return check_summary();
}
