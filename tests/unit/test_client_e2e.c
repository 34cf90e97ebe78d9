/*
 * libsotto against a real sottod: two users exchange 1,000 messages in each direction
 * while the server is restarted in the middle. Every message arrives exactly once, in
 * order per sender, and no gap is reported. And a recipient whose session broke tells
 * the sender (a decryption-failure receipt), whose next message starts a new session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sotto/sotto.h"
#include "client/client_int.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define N_MSG 1000

static struct sottod_proc sp;
static char root[160], srv_addr[400];

/* A fixed port, so that the clients' stored server address survives the restart. The
 * restart is a SIGTERM (drained), so durability = normal loses nothing and spares the
 * fsyncs; test_server_mail covers a SIGKILL after acknowledgement. After the first
 * message each way the sends are sealed; a thousand in a loop would exceed the default
 * sealed rate of a mailbox (20/s, test_server_unlinked covers it), so it is raised. */
static int
setup(void)
{
	char conf[200];

	snprintf(conf, sizeof(conf), "listen = 127.0.0.1:%d\nregistration = open\n"
	    "durability = normal\nlog_level = info\nsealed_rate = 100000\n"
	    "sealed_burst = 100000", sottod_proc_free_port());
	if (sottod_proc_launch(&sp, conf) != 0)
		return -1;
	memcpy(srv_addr, sp.address, sizeof(srv_addr));
	/* The clients' stores in memory when possible: this test is about delivery logic,
	 * not disk speed (test_store covers crash safety). */
	snprintf(root, sizeof(root), "/dev/shm/sotto-e2e-%d", (int)getpid());
	if (mkdir(root, 0700) == 0)
		return 0;
	snprintf(root, sizeof(root), "%s/clients", sp.dir);
	return mkdir(root, 0700);
}

static struct sotto *
user(const char *name)
{
	char home[256], addr[64];
	struct sotto *s = NULL;

	snprintf(home, sizeof(home), "%s/%s", root, name);
	snprintf(addr, sizeof(addr), "%s@localhost", name);
	if (sotto_create(&s, home, (const uint8_t *)"pw", 2, SOTTO_KDF_MIN) != 0)
		return NULL;
	if (sotto_init(s, addr, srv_addr, NULL, 5000) != 0) {
		sotto_close(s);
		return NULL;
	}
	sotto_set_auto_receipts(s, 0);
	return s;
}

struct inbox {
	int count[N_MSG];
	int next;               /* the index expected next, for order */
	int out_of_order, gaps, warnings, total;
};

static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct inbox *in = ctx;
	char buf[32];
	int i;

	if (ev->type != SOTTO_EVENT_MESSAGE) {
		in->warnings++;
		return;
	}
	if (ev->warnings & SOTTO_WARN_GAP)
		in->gaps++;
	else if (ev->warnings & ~SOTTO_WARN_NEW_CONTACT)
		in->warnings++;
	if (ev->body_len >= sizeof(buf))
		return;
	memcpy(buf, ev->body, ev->body_len);
	buf[ev->body_len] = '\0';
	i = atoi(buf + 2);
	if (i < 0 || i >= N_MSG)
		return;
	in->count[i]++;
	if (i != in->next)
		in->out_of_order++;
	in->next = i + 1;
	in->total++;
}

static void
poll_user(struct sotto *s, struct inbox *in, int ms)
{
	int r;

	if (sotto_fd(s) < 0 && sotto_connect(s, 2000) != 0)
		return;
	r = sotto_poll(s, ms, on_event, in);
	(void)r;        /* a lost connection is retried on the next round */
}

TEST(thousand_each_way_across_restart)
{
	static struct inbox ia, ib;
	struct sotto *a, *b;
	char msg[32];
	int i, round, failed_sends = 0, once_a = 1, once_b = 1;

	a = user("alice");
	b = user("bob");
	REQUIRE(a != NULL && b != NULL);
	/* A first message each way starts the sessions. */
	for (i = 0; i < N_MSG; i++) {
		if (i == N_MSG / 2) {
			CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
			REQUIRE(sottod_proc_start(&sp) == 0);
			CHECK(strcmp(sp.address, srv_addr) == 0);
		}
		snprintf(msg, sizeof(msg), "a:%d", i);
		if (sotto_send_text(a, "bob@localhost", msg, strlen(msg), NULL) != 0)
			failed_sends++;         /* queued: goes out with the next send */
		snprintf(msg, sizeof(msg), "b:%d", i);
		if (sotto_send_text(b, "alice@localhost", msg, strlen(msg), NULL) != 0)
			failed_sends++;
		if (i % 50 == 0) {
			poll_user(a, &ia, 0);
			poll_user(b, &ib, 0);
		}
	}
	for (round = 0; round < 50 && (ia.total < N_MSG || ib.total < N_MSG ||
	    sotto_outbox_count(a) > 0 || sotto_outbox_count(b) > 0); round++) {
		if (sotto_flush(a, 2000) < 0 || sotto_flush(b, 2000) < 0)
			usleep(100000);
		poll_user(a, &ia, 200);
		poll_user(b, &ib, 200);
	}
	CHECK(failed_sends <= 4);
	CHECK_EQ_INT(sotto_outbox_count(a), 0);
	CHECK_EQ_INT(sotto_outbox_count(b), 0);
	CHECK_EQ_INT(ia.total, N_MSG);
	CHECK_EQ_INT(ib.total, N_MSG);
	for (i = 0; i < N_MSG; i++) {
		once_a &= ia.count[i] == 1;
		once_b &= ib.count[i] == 1;
	}
	CHECK(once_a);
	CHECK(once_b);
	CHECK_EQ_INT(ia.out_of_order, 0);
	CHECK_EQ_INT(ib.out_of_order, 0);
	CHECK_EQ_INT(ia.gaps + ib.gaps, 0);
	CHECK_EQ_INT(ia.warnings + ib.warnings, 0);
	sotto_close(a);
	sotto_close(b);
}

/* sotto_lookup through the real server: known, unknown, foreign domain, not an address. */
TEST(lookup_through_server)
{
	struct sotto *c = user("carol");

	REQUIRE(c != NULL);
	REQUIRE(sotto_connect(c, 2000) == 0);
	CHECK_EQ_INT(sotto_lookup(c, "alice@localhost", 2000), 0);
	CHECK_EQ_INT(sotto_lookup(c, "carol@localhost", 2000), 0);
	CHECK_EQ_INT(sotto_lookup(c, "Alice@LocalHost", 2000), 0);
	CHECK_EQ_INT(sotto_lookup(c, "zed@localhost", 2000), SOTTO_ERR_UNKNOWN_USER);
	CHECK_EQ_INT(sotto_lookup(c, "alice@other.example", 2000), SOTTO_ERR_OTHER_DOMAIN);
	CHECK_EQ_INT(sotto_lookup(c, "Not An Address", 2000), SOTTO_ERR_BAD_ADDRESS);
	sotto_close(c);
}

struct notes {
	int messages, unreadable, rejected;
	char last_body[64];
	char reason[400];
};

static void
on_note(void *ctx, const struct sotto_event *ev)
{
	struct notes *n = ctx;

	if (ev->type == SOTTO_EVENT_MESSAGE) {
		n->messages++;
		snprintf(n->last_body, sizeof(n->last_body), "%.*s", (int)ev->body_len,
		    (const char *)ev->body);
	}
	if (ev->warnings & SOTTO_WARN_UNREADABLE) {
		n->unreadable++;
		snprintf(n->reason, sizeof(n->reason), "%s", ev->reason ? ev->reason : "");
	}
	if (ev->warnings & SOTTO_WARN_REJECTED)
		n->rejected++;
}

struct poll_until {
	struct sotto *s;
	struct notes *n;
	int *field, want;
};

static int
polled_enough(void *arg)
{
	struct poll_until *p = arg;
	int r;

	if (sotto_fd(p->s) < 0 && sotto_connect(p->s, 2000) != 0)
		return 0;
	r = sotto_poll(p->s, 100, on_note, p->n);
	(void)r;        /* a lost connection is retried on the next round */
	return *p->field >= p->want;
}

static int
wait_notes(struct sotto *s, struct notes *n, int *field, int want)
{
	struct poll_until p = { s, n, field, want };

	return wait_until(polled_enough, &p, 10000) ? 0 : -1;
}

/* The recipient's session is damaged in two ways (a state that does not load, then no
 * session at all); each time the sender gets a decryption-failure receipt, and its
 * following send works. */
TEST(decryption_failure_receipt_restarts_session)
{
	static const uint8_t garbage[100] = { 0x55 };
	struct notes na, nb, nc, nd;
	struct sotto *a, *b, *c, *d;
	struct sotto_message *h = NULL;
	uint8_t lost[SOTTO_ID_LEN];
	size_t nh = 0, i;

	memset(&na, 0, sizeof(na));
	memset(&nb, 0, sizeof(nb));
	memset(&nc, 0, sizeof(nc));
	memset(&nd, 0, sizeof(nd));
	a = user("anna");
	b = user("ben");
	c = user("cleo");
	d = user("dan");
	REQUIRE(a != NULL && b != NULL && c != NULL && d != NULL);
	REQUIRE(sotto_send_text(a, "ben@localhost", "one", 3, NULL) == 0);
	REQUIRE(wait_notes(b, &nb, &nb.messages, 1) == 0);
	REQUIRE(sotto_send_text(b, "anna@localhost", "two", 3, NULL) == 0);
	REQUIRE(wait_notes(a, &na, &na.messages, 1) == 0);

	/* Ben's session with Anna no longer loads. */
	REQUIRE(store_session_put(b->st, "anna@localhost", garbage, sizeof(garbage)) == 0);
	REQUIRE(sotto_send_text(a, "ben@localhost", "lost", 4, lost) == 0);
	CHECK_EQ_INT(wait_notes(b, &nb, &nb.rejected, 1), 0);
	CHECK_EQ_INT(nb.messages, 1);
	CHECK_EQ_INT(wait_notes(a, &na, &na.unreadable, 1), 0);
	CHECK(strstr(na.reason, "ben@localhost could not read your message of") != NULL);
	CHECK(strstr(na.reason, "new session") != NULL);
	/* Anna's history marks the message the receipt names, and that one only. */
	REQUIRE(sotto_history(a, "ben@localhost", 0, 0, &h, &nh) == 0);
	CHECK_EQ_INT(nh, 3);
	for (i = 0; i < nh; i++)
		CHECK_EQ_INT(!!(h[i].flags & SOTTO_MSG_UNREADABLE),
		    memcmp(h[i].id, lost, SOTTO_ID_LEN) == 0);
	sotto_history_free(h, nh);
	REQUIRE(sotto_send_text(a, "ben@localhost", "three", 5, NULL) == 0);
	CHECK_EQ_INT(wait_notes(b, &nb, &nb.messages, 2), 0);
	CHECK(strcmp(nb.last_body, "three") == 0);
	REQUIRE(sotto_send_text(b, "anna@localhost", "four", 4, NULL) == 0);
	CHECK_EQ_INT(wait_notes(a, &na, &na.messages, 2), 0);
	CHECK(strcmp(na.last_body, "four") == 0);
	CHECK_EQ_INT(na.unreadable, 1);         /* one receipt, no echo */

	/* Dan loses his session with Cleo altogether. */
	REQUIRE(sotto_send_text(c, "dan@localhost", "hi", 2, NULL) == 0);
	REQUIRE(wait_notes(d, &nd, &nd.messages, 1) == 0);
	REQUIRE(sotto_send_text(d, "cleo@localhost", "hey", 3, NULL) == 0);
	REQUIRE(wait_notes(c, &nc, &nc.messages, 1) == 0);
	REQUIRE(store_session_delete(d->st, "cleo@localhost") == 0);
	REQUIRE(sotto_send_text(c, "dan@localhost", "lost", 4, NULL) == 0);
	CHECK_EQ_INT(wait_notes(d, &nd, &nd.rejected, 1), 0);
	CHECK_EQ_INT(wait_notes(c, &nc, &nc.unreadable, 1), 0);
	REQUIRE(sotto_send_text(c, "dan@localhost", "again", 5, NULL) == 0);
	CHECK_EQ_INT(wait_notes(d, &nd, &nd.messages, 2), 0);
	CHECK(strcmp(nd.last_body, "again") == 0);
	REQUIRE(sotto_send_text(d, "cleo@localhost", "good", 4, NULL) == 0);
	CHECK_EQ_INT(wait_notes(c, &nc, &nc.messages, 2), 0);
	sotto_close(a);
	sotto_close(b);
	sotto_close(c);
	sotto_close(d);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (setup() != 0) {
		printf("FAIL - setup: cannot start %s\n", sottod_proc_binary());
		sottod_proc_cleanup(&sp);
		return 1;
	}
	RUN(thousand_each_way_across_restart);
	RUN(lookup_through_server);
	RUN(decryption_failure_receipt_restarts_session);
	sottod_proc_cleanup(&sp);
	if (strncmp(root, "/dev/shm/", 9) == 0) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
	return check_summary();
}
