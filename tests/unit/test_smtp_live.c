/*
 * The SMTP engine on a real loopback socket, driven by mail clients nobody here wrote:
 * python3 smtplib and curl (tests/integration/smtp_client.py), plus raw sockets for the
 * cases a polite client never produces. The backend below is a stand-in for the client
 * core: a.example is "Sotto", every other domain is not; it records every copy it is
 * asked to deliver so the test can compare bytes with what the clients sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "bridge/auth.h"
#include "smtp/smtp.h"
#include "check.h"
#include "uvthread.h"
#include "waitfor.h"

#define USER "alice@a.example"
#define PASSWORD "correct horse battery staple"

struct delivery {
	unsigned serial;        /* which mail (DATA) it belongs to */
	char rcpt[300];
	uint8_t *copy;
	size_t copy_len;
	uint8_t *orig;
	size_t orig_len;
};

static struct uvthread ut;
static struct smtp_server *srv;
static struct bridge_auth *auth;
static uint16_t port;
static struct delivery deliveries[64];
static size_t ndeliveries;
static unsigned serial;
static unsigned nlate;          /* deliveries answered late (answer_later) so far */

struct later {
	uv_timer_t t;
	smtp_deliver_done done;
	smtp_rcpt_done rdone;
	void *ctx;
	int verdict;
};

static void
free_later(uv_handle_t *h)
{
	free(h->data);
}

static void
fire_later(uv_timer_t *t)
{
	struct later *l = t->data;

	if (l->done != NULL) {
		l->done(l->ctx, (enum smtp_deliver_result)l->verdict,
		    l->verdict ? "the server refused the copy" : NULL);
		nlate++;
	} else {
		l->rdone(l->ctx, (enum smtp_rcpt_verdict)l->verdict, NULL);
	}
	uv_close((uv_handle_t *)&l->t, free_later);
}

static void
answer_later(smtp_rcpt_done rdone, smtp_deliver_done done, void *ctx, int verdict, int ms)
{
	struct later *l = calloc(1, sizeof(*l));

	l->done = done;
	l->rdone = rdone;
	l->ctx = ctx;
	l->verdict = verdict;
	uv_timer_init(&ut.loop, &l->t);
	l->t.data = l;
	uv_timer_start(&l->t, fire_later, (uint64_t)ms, 0);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void
be_check_rcpt(void *arg, const char *addr, smtp_rcpt_done done, void *ctx)
{
	enum smtp_rcpt_verdict v = SMTP_RCPT_OK;

	(void)arg;
	if (!ends_with(addr, "@a.example"))
		v = SMTP_RCPT_NOT_SOTTO;
	else if (strcmp(addr, "nobody@a.example") == 0)
		v = SMTP_RCPT_UNKNOWN;
	else if (strcmp(addr, "temp@a.example") == 0)
		v = SMTP_RCPT_TEMPFAIL;
	/* Answer some at once and some later: both paths must keep replies in order. */
	if (addr[0] == 'b')
		done(ctx, v, NULL);
	else
		answer_later(done, NULL, ctx, (int)v, 5);
}

static void
be_deliver(void *arg, const struct smtp_mail *m, size_t i, smtp_deliver_done done, void *ctx)
{
	struct delivery *d;

	(void)arg;
	if (i == 0)
		serial++;
	if (strcmp(m->rcpts[i], "fail@a.example") == 0) {
		answer_later(NULL, done, ctx, SMTP_DELIVER_PERMFAIL, 5);
		return;
	}
	if (ndeliveries == sizeof(deliveries) / sizeof(deliveries[0])) {
		done(ctx, SMTP_DELIVER_TEMPFAIL, "test store full");
		return;
	}
	d = &deliveries[ndeliveries++];
	d->serial = serial;
	snprintf(d->rcpt, sizeof(d->rcpt), "%s", m->rcpts[i]);
	d->copy = malloc(m->copy_len + 1);
	memcpy(d->copy, m->copy, m->copy_len);
	d->copy_len = m->copy_len;
	d->orig = malloc(m->original_len + 1);
	memcpy(d->orig, m->original, m->original_len);
	d->orig_len = m->original_len;
	if (strncmp(m->rcpts[i], "slow", 4) == 0)
		answer_later(NULL, done, ctx, SMTP_DELIVER_OK, 300);
	else if (i % 2 == 0)
		done(ctx, SMTP_DELIVER_OK, NULL);
	else
		answer_later(NULL, done, ctx, SMTP_DELIVER_OK, 10);
}

static int start_rc;
static char start_why[300];

static void
start(void *arg)
{
	char hash[BRIDGE_AUTH_HASH_BYTES];
	struct bridge_auth_config ac = {
		.user = USER, .pw_hash = hash, .fail_delay_ms = 100, .free_failures = 4,
		.delay_max_ms = 800,
	};
	struct smtp_config sc = {
		.hostname = "bridge.test", .user = USER, .max_size = 64 * 1024, .max_rcpts = 5,
		.max_errors = 6, .listen = { .host = "127.0.0.1", .port = 0 },
	};
	struct smtp_backend be = { NULL, be_check_rcpt, be_deliver };

	(void)arg;
	start_rc = bridge_auth_hash_password(PASSWORD, strlen(PASSWORD),
	    crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, hash);
	if (start_rc == 0)
		start_rc = bridge_auth_new(&auth, &ut.loop, &ac);
	if (start_rc == 0)
		start_rc = smtp_server_start(&srv, &ut.loop, &sc, &be, auth, start_why,
		    sizeof(start_why));
	if (start_rc == 0)
		port = smtp_server_port(srv);
}

static void
count_deliveries(void *arg)
{
	size_t *n = arg;

	*n = ndeliveries;
}

static size_t
deliveries_now(void)
{
	size_t n;

	usleep(200000);         /* let any delivery in flight land */
	uvthread_call(&ut, count_deliveries, &n);
	return n;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static char dir[] = "/tmp/sotto-smtp-XXXXXX";

/* The manifest lists, per line, a delivery the clients expect: serial, recipient, the
 * file holding the exact copy and the file holding the exact original. */
TEST(smtp_clients_delivered_bytes_match_exactly_one_copy_each)
{
	char path[512], line[1024], rcpt[300], copyf[300], origf[300];
	unsigned want_serial;
	size_t expected = 0, n, i, hits;
	FILE *f;

	n = deliveries_now();
	snprintf(path, sizeof(path), "%s/manifest", dir);
	REQUIRE((f = fopen(path, "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t clen, olen;
		uint8_t *copy, *orig;

		if (sscanf(line, "%u %299s %299s %299s", &want_serial, rcpt, copyf, origf) != 4)
			continue;
		expected++;
		copy = slurp(copyf, &clen);
		orig = slurp(origf, &olen);
		REQUIRE(copy != NULL && orig != NULL);
		hits = 0;
		for (i = 0; i < n; i++) {
			struct delivery *d = &deliveries[i];

			if (d->serial != want_serial || strcmp(d->rcpt, rcpt) != 0)
				continue;
			hits++;
			CHECK_EQ_INT(d->copy_len, clen);
			CHECK(d->copy_len == clen && memcmp(d->copy, copy, clen) == 0);
			CHECK_EQ_INT(d->orig_len, olen);
			CHECK(d->orig_len == olen && memcmp(d->orig, orig, olen) == 0);
		}
		if (hits != 1)
			fprintf(stderr, "mail %u to %s: %zu copies\n", want_serial, rcpt, hits);
		CHECK_EQ_INT(hits, 1);
		free(copy);
		free(orig);
	}
	fclose(f);
	CHECK(expected >= 8);
	CHECK_EQ_INT(n, expected);     /* nothing delivered that no client expected */
}

static int
auth_plain(int fd, char *buf, size_t cap)
{
	/* base64 of "\0alice@a.example\0correct horse battery staple" */
	return uvthread_send(fd, "EHLO raw\r\nAUTH PLAIN AGFsaWNlQGEuZXhhbXBsZQBjb3JyZWN0IGhvcnNl"
	    "IGJhdHRlcnkgc3RhcGxl\r\n") == 0 && uvthread_read_until(fd, buf, cap, "235 ") == 0;
}

/* Connects, authenticates as alice and opens DATA for one mail to rcpt: the socket, or -1
 * (closed) when any step is not answered as it should be. */
static int
open_data(const char *rcpt, char *buf, size_t cap)
{
	char cmd[160];
	int fd = uvthread_connect(port);

	if (fd < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<alice@a.example>\r\nRCPT TO:<%s>\r\nDATA\r\n",
	    rcpt);
	if (uvthread_read_until(fd, buf, cap, "220 ") != 0 || !auth_plain(fd, buf, cap) ||
	    uvthread_send(fd, cmd) != 0 || uvthread_read_until(fd, buf, cap, "354 ") != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(smtp_disconnect_mid_data_delivers_nothing)
{
	char buf[4096];
	size_t before = deliveries_now();
	int fd;

	REQUIRE((fd = open_data("bob@a.example", buf, sizeof(buf))) >= 0);
	CHECK_EQ_INT(uvthread_send(fd, "Subject: cut\r\n\r\nhalf a mail\r\n.\r"), 0);
	usleep(50000);
	close(fd);
	CHECK_EQ_INT(deliveries_now(), before);
}

/* Sends one whole mail to slow@a.example (answered after 300 ms) and hangs up at once. */
static void
send_and_hang_up(void)
{
	char buf[4096];
	int fd;

	REQUIRE((fd = open_data("slow@a.example", buf, sizeof(buf))) >= 0);
	CHECK_EQ_INT(uvthread_send(fd, "Subject: gone\r\n\r\nbye\r\n.\r\n"), 0);
	usleep(20000);
	close(fd);
}

struct late_wait {
	size_t deliveries;
	unsigned late;
};

static void
count_late(void *arg)
{
	struct late_wait *w = arg;

	w->deliveries = ndeliveries;
	w->late = nlate;
}

static int
late_answered(void *arg)
{
	struct late_wait *w = arg, now;

	uvthread_call(&ut, count_late, &now);
	return now.deliveries > w->deliveries && now.late > w->late;
}

TEST(smtp_hang_up_after_final_dot_still_delivers)
{
	struct late_wait before;

	usleep(200000);         /* let any delivery in flight land */
	uvthread_call(&ut, count_late, &before);
	send_and_hang_up();
	/* The session outlives its connection until the delivery reports (ASan: no leak, no
	 * use after free when the late answer arrives). */
	CHECK(wait_until(late_answered, &before, 5000));
	CHECK_EQ_INT(deliveries_now(), before.deliveries + 1);
}

TEST(smtp_slow_client_byte_by_byte)
{
	static const char mail[] = "Subject: slow\r\n\r\n..dot\r\nend\r\n.\r\n";
	char buf[4096], one[2] = { 0, 0 };
	size_t before = deliveries_now(), i;
	int fd;

	REQUIRE((fd = open_data("bob@a.example", buf, sizeof(buf))) >= 0);
	for (i = 0; mail[i] != '\0'; i++) {
		one[0] = mail[i];
		CHECK_EQ_INT(uvthread_send(fd, one), 0);
		usleep(2000);
	}
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "250 2.0.0"), 0);
	CHECK_EQ_INT(deliveries_now(), before + 1);
	{
		struct delivery *d = &deliveries[before];
		static const char want[] = "Subject: slow\r\n\r\n.dot\r\nend\r\n";

		CHECK_EQ_INT(d->copy_len, sizeof(want) - 1);
		CHECK(d->copy_len == sizeof(want) - 1 && memcmp(d->copy, want, d->copy_len) == 0);
	}
	CHECK_EQ_INT(uvthread_send(fd, "QUIT\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "221 "), 0);
	CHECK(uvthread_wait_eof(fd));
	close(fd);
}

TEST(smtp_overlong_command_refused_connection_usable)
{
	char buf[4096], big[3000];
	int fd = uvthread_connect(port);

	REQUIRE(fd >= 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "220 "), 0);
	memset(big, 'A', sizeof(big));
	memcpy(big, "NOOP ", 5);
	memcpy(big + sizeof(big) - 3, "\r\n", 3);
	CHECK_EQ_INT(uvthread_send(fd, big), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "500 5.5.2 Line too long"), 0);
	/* 600 bytes: fits the reader, over RFC 5321's 512 for a command. */
	big[600] = '\0';
	memcpy(big + 598, "\r\n", 2);
	CHECK_EQ_INT(uvthread_send(fd, big), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "500 5.5.2 Line too long"), 0);
	CHECK_EQ_INT(uvthread_send(fd, "NOOP\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "250 2.0.0 OK"), 0);
	close(fd);
}

TEST(smtp_non_loopback_refuses_to_start)
{
	struct smtp_server *s2 = NULL;
	struct smtp_config sc = { .user = USER, .listen = { .host = "0.0.0.0" } };
	struct smtp_backend be = { NULL, be_check_rcpt, be_deliver };
	char why[300] = "";

	/* Not started on the loop: the rule is checked before anything is bound. */
	CHECK_EQ_INT(smtp_server_start(&s2, &ut.loop, &sc, &be, auth, why, sizeof(why)),
	    SOTTO_ERR_AUTH);
	CHECK(s2 == NULL);
	CHECK(strstr(why, "no TLS key") != NULL);
}

static int
run_client(void)
{
	char cmd[1024];
	int rc;

	snprintf(cmd, sizeof(cmd), "SMTP_PASSWORD='%s' SMTP_USER='%s' python3 "
	    "tests/integration/smtp_client.py %u %s", PASSWORD, USER, port, dir);
	fflush(stdout);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void
stop(void *arg)
{
	(void)arg;
	smtp_server_stop(srv, NULL, NULL);
	bridge_auth_free(auth);
}

int
main(void)
{
	size_t i;
	int rc;

	if (mkdtemp(dir) == NULL || uvthread_start(&ut) != 0)
		return 1;
	uvthread_call(&ut, start, NULL);
	if (start_rc != 0) {
		fprintf(stderr, "start: %s\n", start_why);
		return 1;
	}
	rc = run_client();
	check_begin("smtp_python_and_curl_clients_exit_zero");
	CHECK_EQ_INT(rc, 0);
	check_end();
	RUN(smtp_clients_delivered_bytes_match_exactly_one_copy_each);
	RUN(smtp_disconnect_mid_data_delivers_nothing);
	RUN(smtp_hang_up_after_final_dot_still_delivers);
	RUN(smtp_slow_client_byte_by_byte);
	RUN(smtp_overlong_command_refused_connection_usable);
	RUN(smtp_non_loopback_refuses_to_start);
	/* Stop with a delivery still in flight: the server is freed only after it reports. */
	check_begin("smtp_stop_with_delivery_in_flight");
	send_and_hang_up();
	check_end();
	uvthread_call(&ut, stop, NULL);
	uvthread_stop(&ut);
	for (i = 0; i < ndeliveries; i++) {
		free(deliveries[i].copy);
		free(deliveries[i].orig);
	}
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return check_summary();
}
