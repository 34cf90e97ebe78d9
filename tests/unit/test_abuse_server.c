/*
 * sottod under abuse, measured from outside: connection floods and slow handshakes from
 * another address, oversized messages from a member, prekey exhaustion, registration
 * floods, mailbox flooding and a reader that never reads. In each the configured limit holds, the server's resident
 * memory (VmRSS) stays bounded and an honest client on the side keeps being served.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
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
#include "sottod_proc.h"
#include "waitfor.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/noise.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Resident memory of a process in KiB, from /proc/PID/status. */
static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int
open_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

struct fds_wait {
	pid_t pid;
	int max;
};

static int
fds_at_most(void *arg)
{
	const struct fds_wait *w = arg;
	int n = open_fds(w->pid);

	return n >= 0 && n <= w->max;
}

/* Growth allowed while under attack. ASan's quarantine and shadow memory make its builds
 * bigger, so the bound is generous; an unbounded buffer grows far past it. */
#define RSS_GROWTH_MAX_KIB (48 * 1024)

/* A TCP connection to the server from the given loopback source address. */
static int
connect_from(const struct sottod_proc *sp, const char *src)
{
	struct address_server as;
	struct sockaddr_in sa, la;
	int fd;

	if (address_server_parse(sp->address, &as) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(as.port);
	inet_pton(AF_INET, as.host, &sa.sin_addr);
	memset(&la, 0, sizeof(la));
	la.sin_family = AF_INET;
	inet_pton(AF_INET, src, &la.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 if the peer has closed fd (EOF or reset) within timeout_ms. */
static int
is_closed(int fd, int timeout_ms)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	uint8_t tmp[512];
	ssize_t k;

	if (poll(&pf, 1, timeout_ms) <= 0)
		return 0;
	k = read(fd, tmp, sizeof(tmp));
	return k == 0 || (k < 0 && errno == ECONNRESET);
}

#define FLOOD 300

TEST(connection_flood_and_slow_handshakes_stay_bounded)
{
	struct sottod_proc sp;
	struct test_user good;
	static int fds[FLOOD];
	long rss0, rss1;
	int i, n_open = 0, closed_early = 0, closed_late = 0, fd0;
	struct fds_wait fdw;
	uint64_t deadline;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmax_conns_per_addr = 40\n"
	    "handshake_timeout_ms = 600\n") == 0);
	REQUIRE(test_user_join(&good, &sp, "good") == 0);
	REQUIRE(test_user_cert(&good) == 0);
	fd0 = open_fds(sp.pid);
	rss0 = rss_kib(sp.pid);
	/* From 127.0.0.2: half say nothing, half start a handshake frame and stall. */
	for (i = 0; i < FLOOD; i++) {
		fds[i] = connect_from(&sp, "127.0.0.2");
		if (fds[i] < 0)
			continue;
		n_open++;
		if (i % 2 == 1 && write(fds[i], "\x00", 1) != 1)
			continue;
	}
	CHECK(n_open > FLOOD / 2);
	/* The honest client, from another address, is served throughout. */
	CHECK(test_user_cert(&good) == 0);
	for (i = 0; i < FLOOD; i++)
		if (fds[i] >= 0 && is_closed(fds[i], 1))
			closed_early++;
	/* At most max_conns_per_addr stay: the rest were turned away at once. */
	CHECK(n_open - closed_early <= 40);
	rss1 = rss_kib(sp.pid);
	printf("# flood: %d connected, %d turned away at once; VmRSS %ld -> %ld KiB\n", n_open,
	    closed_early, rss0, rss1);
	CHECK(rss1 - rss0 < RSS_GROWTH_MAX_KIB);
	/* The stalled ones are dropped by the handshake timeout (600 ms): each is waited
	 * for, all within one deadline. */
	deadline = now_ms() + (uint64_t)wait_scaled_ms(3000);
	for (i = 0; i < FLOOD; i++)
		if (fds[i] >= 0) {
			uint64_t now = now_ms();

			closed_late += is_closed(fds[i], now < deadline ? (int)(deadline - now) : 0);
			close(fds[i]);
		}
	CHECK_EQ_INT(closed_late, n_open);
	CHECK(test_user_cert(&good) == 0);
	/* Nothing of the flood is left behind in the server. */
	fdw.pid = sp.pid;
	fdw.max = fd0 + 2;
	CHECK(wait_until(fds_at_most, &fdw, 2000));
	test_user_close(&good);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(oversized_messages_from_a_member_are_cut_off)
{
	struct sottod_proc sp;
	struct test_user good, bad;
	struct noise_transport t;
	struct buf b;
	long rss0, rss1;
	size_t off = 0, big = 8u * 1024 * 1024;
	uint8_t *msg;
	int fd, closed = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmax_payload = 262144\n") == 0);
	REQUIRE(test_user_join(&good, &sp, "good") == 0);
	REQUIRE(test_user_join(&bad, &sp, "bad") == 0);
	test_user_close(&bad);
	rss0 = rss_kib(sp.pid);
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, bad.dev_sk, &t)) >= 0);
	/* One 8 MiB logical message against a 256 KiB cap: the server must stop reading and
	 * close instead of buffering it. */
	REQUIRE((msg = calloc(1, big)) != NULL);
	msg[0] = PROTO_VERSION;
	msg[1] = PROTO_SEND;
	buf_init_dyn(&b, big + big / 8);
	REQUIRE(frame_seal(&t, msg, big, &b) == 0);
	free(msg);
	while (off < b.len) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		ssize_t k;
		if (poll(&pf, 1, 3000) <= 0)
			break;
		if ((k = send(fd, b.p + off, b.len - off, MSG_NOSIGNAL)) <= 0)
			break;
		off += (size_t)k;
	}
	closed = off < b.len || is_closed(fd, 3000);
	buf_free(&b);
	close(fd);
	CHECK(closed);
	rss1 = rss_kib(sp.pid);
	printf("# oversized: %zu of %zu bytes accepted before the close; VmRSS %ld -> %ld KiB\n",
	    off, big, rss0, rss1);
	CHECK(rss1 - rss0 < RSS_GROWTH_MAX_KIB);
	CHECK(test_user_cert(&good) == 0);
	test_user_close(&good);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(prekey_exhaustion_is_rate_limited_and_never_hands_a_key_out_twice)
{
	struct sottod_proc sp;
	struct test_user bob, mallory, alice;
	uint8_t handed[21] = { 0 };
	int i, ok = 0, limited = 0, twice = 0, otpks = 0, low_seen = 0;
	struct timespec t0, t1;
	double refilled;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nprekey_low = 5\n"
	    "account_rate = 10\naccount_burst = 18\n") == 0);
	REQUIRE(test_user_join(&bob, &sp, "bob") == 0);
	REQUIRE(test_user_join(&mallory, &sp, "mallory") == 0);
	REQUIRE(test_user_join(&alice, &sp, "alice") == 0);
	REQUIRE(test_user_upload(&bob, 1, 20) == 0);
	while (conn_next_event(bob.c, &bob.ev, 0) == 0)
		;
	/* Mallory drains as fast as she can. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 60; i++) {
		int r = test_user_fetch(&mallory, "bob@localhost");
		if (r == SOTTO_ERR_LIMIT) {
			limited++;
			continue;
		}
		if (r != 0)
			break;
		ok++;
		if (mallory.resp.u.bundle.has_otpk) {
			uint32_t id = mallory.resp.u.bundle.otpk.id;
			otpks++;
			if (id >= 1 && id <= 20 && handed[id]++)
				twice++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* account_rate = 10 a second: what refilled while she drained, however slow the
	 * machine (ASan, valgrind, a loaded CI) made her loop. */
	refilled = 10.0 * ((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("# exhaustion: %d bundles, %d with a one-time key, %d refused by the rate limit"
	    " (%.1f tokens refilled meanwhile)\n", ok, otpks, limited, refilled);
	CHECK(limited > 0);                     /* the account rate limit bites */
	CHECK(ok <= 18 + (int)refilled + 1);    /* burst + what refilled meanwhile */
	CHECK_EQ_INT(twice, 0);
	CHECK(otpks <= 20);
	/* Bob hears his keys run low and can refill; Alice still gets a bundle to start a
	 * session (the signed prekey) whatever Mallory did. */
	while (conn_next_event(bob.c, &bob.ev, 500) == 0)
		low_seen += bob.ev.type == PROTO_PREKEY_LOW;
	CHECK(low_seen > 0);
	CHECK_EQ_INT(test_user_fetch(&alice, "bob@localhost"), 0);
	CHECK_EQ_INT(alice.resp.u.bundle.spk.id, 1);
	CHECK_EQ_INT(test_user_upload(&bob, 100, 20), 0);
	CHECK_EQ_INT(test_user_fetch(&alice, "bob@localhost"), 0);
	CHECK(alice.resp.u.bundle.has_otpk);
	test_user_close(&bob);
	test_user_close(&mallory);
	test_user_close(&alice);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(registration_flood_without_invites_creates_no_account)
{
	struct sottod_proc sp;
	struct test_user u, good, probe;
	const char *args[] = { "invite", "--data", NULL, NULL };
	char invite[128] = "", name[32];
	int i, refused = 0, other = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = invite\n") == 0);
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "flood%d", i);
		test_user_new(&u, name);
		/* Half claim no invite, half a made-up one. */
		int r = test_user_register(&u, &sp, i % 2 ? "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : NULL);
		if (r == (i % 2 ? SOTTO_ERR_INVITE_UNKNOWN : SOTTO_ERR_AUTH))
			refused++;
		else
			other++;
		test_user_close(&u);
	}
	CHECK_EQ_INT(refused, 30);
	CHECK_EQ_INT(other, 0);
	/* A real invite still works, once. */
	args[2] = sp.dir;
	REQUIRE(sottod_proc_cmd(args, invite, sizeof(invite)) == 0);
	invite[strcspn(invite, "\n")] = '\0';
	test_user_new(&good, "good");
	CHECK_EQ_INT(test_user_register(&good, &sp, invite), 0);
	test_user_new(&probe, "probe");
	CHECK_EQ_INT(test_user_register(&probe, &sp, invite), SOTTO_ERR_INVITE_USED);
	/* No flood address became an account. */
	if (good.c != NULL) {
		CHECK_EQ_INT(test_user_fetch(&good, "flood1@localhost"), SOTTO_ERR_UNKNOWN_USER);
		CHECK_EQ_INT(test_user_fetch(&good, "flood2@localhost"), SOTTO_ERR_UNKNOWN_USER);
	}
	test_user_close(&good);
	test_user_close(&probe);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(mailbox_flood_is_capped_and_others_are_served)
{
	struct sottod_proc sp;
	struct test_user bob, mallory, alice, carol;
	static uint8_t env[60 * 1024];
	long rss0, rss1;
	int i, accepted = 0, limited = 0, r;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmailbox_max = 40\n") == 0);
	REQUIRE(test_user_join(&bob, &sp, "bob") == 0);
	REQUIRE(test_user_join(&mallory, &sp, "mallory") == 0);
	REQUIRE(test_user_join(&alice, &sp, "alice") == 0);
	REQUIRE(test_user_join(&carol, &sp, "carol") == 0);
	test_user_close(&bob);          /* offline: everything queues */
	rss0 = rss_kib(sp.pid);
	randombytes_buf(env, sizeof(env));
	for (i = 0; i < 80; i++) {
		r = test_user_send(&mallory, "bob@localhost", NULL, env, sizeof(env));
		if (r == 0)
			accepted++;
		else if (r == SOTTO_ERR_MAILBOX_FULL)
			limited++;
		else
			break;
	}
	rss1 = rss_kib(sp.pid);
	printf("# mailbox flood: %d accepted, %d refused; VmRSS %ld -> %ld KiB\n", accepted,
	    limited, rss0, rss1);
	CHECK_EQ_INT(accepted, 40);
	CHECK_EQ_INT(limited, 40);
	CHECK(rss1 - rss0 < RSS_GROWTH_MAX_KIB);
	/* Other mailboxes are untouched by it. */
	CHECK_EQ_INT(test_user_send(&alice, "carol@localhost", NULL, "hi", 2), 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "hi", 2),
	    SOTTO_ERR_MAILBOX_FULL);
	/* Bob drains his mailbox; then he can be written to again. */
	REQUIRE(test_user_connect(&bob, &sp) == 0);
	CHECK_EQ_INT(test_user_drain(&bob, 40, 3000), 40);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "hi", 2), 0);
	test_user_close(&bob);
	test_user_close(&mallory);
	test_user_close(&alice);
	test_user_close(&carol);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* A member that never reads its pushes: what the server queues for it stays bounded and
 * the sender is served. (Small envelopes: the backlog fits the push window.) */
TEST(slow_reader_is_bounded)
{
	struct sottod_proc sp;
	struct test_user bob, alice;
	struct noise_transport t;
	static uint8_t env[16 * 1024];
	long rss0, rss1;
	int i, fd, sent = 0, rcv = 4096;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\n") == 0);
	REQUIRE(test_user_join(&bob, &sp, "bob") == 0);
	REQUIRE(test_user_join(&alice, &sp, "alice") == 0);
	test_user_close(&bob);
	REQUIRE((fd = sottod_proc_handshake_raw(&sp, bob.dev_sk, &t)) >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	rss0 = rss_kib(sp.pid);
	for (i = 0; i < 300; i++) {
		env[0] = (uint8_t)i;
		if (test_user_send(&alice, "bob@localhost", NULL, env, sizeof(env)) != 0)
			break;
		sent++;
	}
	rss1 = rss_kib(sp.pid);
	printf("# slow reader: %d x 16 KiB sent past a reader that never reads; VmRSS %ld -> "
	    "%ld KiB\n", sent, rss0, rss1);
	CHECK_EQ_INT(sent, 300);
	CHECK(rss1 - rss0 < RSS_GROWTH_MAX_KIB);
	close(fd);
	/* Everything is still there for Bob's next, honest connection. */
	REQUIRE(test_user_connect(&bob, &sp) == 0);
	CHECK_EQ_INT(test_user_drain(&bob, sent, 5000), sent);
	test_user_close(&bob);
	test_user_close(&alice);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* A mailbox holding a push window of maximum-size envelopes, with the default settings:
 * its owner's client must be able to catch up. (Anyone can fill a mailbox like this, so if
 * the server drops the owner for "not reading" while it pushes the backlog, the owner can
 * never receive again.) */
TEST(backlog_of_largest_envelopes_reaches_its_owner)
{
	struct sottod_proc sp;
	struct test_user bob, mallory;
	static uint8_t env[PROTO_ENVELOPE_MAX];
	int i, sent = 0, got;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\n") == 0);
	REQUIRE(test_user_join(&bob, &sp, "bob") == 0);
	REQUIRE(test_user_join(&mallory, &sp, "mallory") == 0);
	test_user_close(&bob);
	for (i = 0; i < 100; i++) {
		env[0] = (uint8_t)i;
		if (test_user_send(&mallory, "bob@localhost", NULL, env, sizeof(env)) != 0)
			break;
		sent++;
	}
	CHECK_EQ_INT(sent, 100);
	REQUIRE(test_user_connect(&bob, &sp) == 0);
	got = test_user_drain(&bob, sent, 5000);
	printf("# backlog: %d of %d envelopes of 64 KiB reached their owner\n", got, sent);
	CHECK_EQ_INT(got, sent);
	test_user_close(&bob);
	test_user_close(&mallory);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];

	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* An ASan sottod keeps up to 256 MiB of freed memory in quarantine, which would show as
	 * growth proportional to traffic; a small quarantine lets VmRSS measure what it holds. */
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", asan ? asan : "", asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	RUN(connection_flood_and_slow_handshakes_stay_bounded);
	RUN(oversized_messages_from_a_member_are_cut_off);
	RUN(prekey_exhaustion_is_rate_limited_and_never_hands_a_key_out_twice);
	RUN(registration_flood_without_invites_creates_no_account);
	RUN(mailbox_flood_is_capped_and_others_are_served);
	RUN(slow_reader_is_bounded);
	RUN(backlog_of_largest_envelopes_reaches_its_owner);
	return check_summary();
}
