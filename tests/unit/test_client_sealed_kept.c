/*
 * libsotto's kept unidentified connection (src/client/sealed_conn.c, docs/CLIENT.md
 * "Unidentified sends") against a real sottod: the sealed sends of one handle share one
 * Noise_NK connection (the server logs "conn N: unidentified" once per connection); it is
 * replaced after CLIENT_SEALED_SENDS_MAX sends or CLIENT_SEALED_AGE_MS, closed after
 * CLIENT_SEALED_IDLE_MS without a send (shortened here through the handle's fields), and
 * a kept connection killed between two sends is replaced without losing the message or
 * storing it twice.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "client/client_int.h"
#include "client/conn.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define T 10000
#define IDS_MAX 64

static const uint8_t PASS[] = "kept pass";

struct user {
	struct sotto *s;
	char home[256];
	int texts;              /* text messages received so far */
};

static struct sottod_proc sp;

static int
user_new(struct user *u, const char *name)
{
	char addr[64];
	int r;

	memset(u, 0, sizeof(*u));
	snprintf(u->home, sizeof(u->home), "/tmp/sotto-test-sealed-kept-%d-%s", (int)getpid(),
	    name);
	snprintf(addr, sizeof(addr), "%s@localhost", name);
	if ((r = sotto_create(&u->s, u->home, PASS, sizeof(PASS) - 1, SOTTO_KDF_MIN)) != 0)
		return r;
	return sotto_init(u->s, addr, sp.address, NULL, T);
}

static void
user_free(struct user *u)
{
	char cmd[300];

	sotto_close(u->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", u->home);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", u->home);
}

static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct user *u = ctx;

	if (ev->type == SOTTO_EVENT_MESSAGE)
		u->texts++;
}

/* What u's server pushed meanwhile; a dropped connection is made again. */
static void
poll_once(struct user *u)
{
	if (sotto_poll(u->s, 100, on_event, u) < 0 && sotto_connect(u->s, T) != 0)
		fprintf(stderr, "# %s: cannot connect\n", u->home);
}

struct text_wait {
	struct user *u;
	int want;
};

static int
has_texts(void *arg)
{
	struct text_wait *w = arg;

	poll_once(w->u);
	return w->u->texts >= w->want;
}

/* Polls u until it has received `want` texts in all, and no more. */
static int
got_texts(struct user *u, int want)
{
	struct text_wait w = { u, want };

	return wait_until(has_texts, &w, T) && u->texts == want;
}

/* Whether a holds a token of the contact's to send to it sealed (polling a for it). */
static int
holds_token(void *arg)
{
	struct user *a = arg;
	struct store_contact ct;
	int ok;

	poll_once(a);
	ok = store_contact_get(a->s->st, "bob@localhost", &ct) == 0 &&
	    ct.token_state == STORE_TOKEN_OK;
	memset(&ct, 0, sizeof(ct));
	return ok;
}

/* The ids of the unidentified connections in the server's log, in order. */
static size_t
unidentified(unsigned long long ids[IDS_MAX])
{
	char path[300], line[512];
	unsigned long long id;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", sp.dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "conn ");

		if (p != NULL && strstr(p, ": unidentified") != NULL &&
		    sscanf(p, "conn %llu", &id) == 1 && n < IDS_MAX)
			ids[n++] = id;
	}
	fclose(f);
	return n;
}

static size_t
n_unidentified(void)
{
	unsigned long long ids[IDS_MAX];

	return unidentified(ids);
}

/* Whether the server's log says connection id ended. */
static int
conn_ended(unsigned long long id)
{
	char path[300], line[512], a[64], b[64];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", sp.dir);
	snprintf(a, sizeof(a), "conn %llu: closed", id);
	snprintf(b, sizeof(b), "conn %llu closed", id);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, a) != NULL || strstr(line, b) != NULL;
	fclose(f);
	return found;
}

static int
send_n(struct user *a, int n)
{
	char text[32];
	int r = 0;

	for (int i = 0; i < n && r == 0; i++) {
		snprintf(text, sizeof(text), "sealed %d", i);
		r = sotto_send_text(a->s, "bob@localhost", text, strlen(text), NULL);
	}
	return r;
}

struct idle_wait {
	struct user *a;
	unsigned long long id;
};

/* The idle check a long-running process makes, until the server saw the close. */
static int
idle_closed(void *arg)
{
	struct idle_wait *w = arg;

	sotto_close_idle(w->a->s);
	return w->a->s->sealed == NULL && conn_ended(w->id);
}

static int64_t
envelopes(void)
{
	return sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes");
}

/* alice and bob exchange a first message each way, so that alice holds bob's token. */
static int
pair(struct user *a, struct user *b)
{
	if (user_new(a, "alice") != 0 || user_new(b, "bob") != 0)
		return -1;
	if (sotto_send_text(a->s, "bob@localhost", "hello", 5, NULL) != 0 || !got_texts(b, 1))
		return -1;
	/* bob's delivery receipt carries his token to alice */
	if (!wait_until(holds_token, a, T))
		return -1;
	sotto_set_auto_receipts(b->s, 0);
	return 0;
}

TEST(sends_share_one_connection_rotated_and_closed_when_idle)
{
	struct user u[2], *a = &u[0], *b = &u[1];
	unsigned long long ids[IDS_MAX];
	struct idle_wait w;
	size_t n0, n;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nsealed_rate = 1000") == 0);
	REQUIRE(pair(a, b) == 0);
	/* Three sends: one new unidentified connection, still open afterwards. */
	client_sealed_close(a->s, 1);
	n0 = n_unidentified();
	CHECK_EQ_INT(send_n(a, 3), 0);
	CHECK_EQ_INT((int)(n_unidentified() - n0), 1);
	CHECK(a->s->sealed != NULL);
	CHECK(got_texts(b, 4));
	/* At most two sends a connection: four sends take two more. */
	a->s->sealed_sends_max = 2;
	client_sealed_close(a->s, 1);
	n0 = n_unidentified();
	CHECK_EQ_INT(send_n(a, 4), 0);
	CHECK_EQ_INT((int)(n_unidentified() - n0), 2);
	CHECK(got_texts(b, 8));
	/* A connection past its age is replaced at the next send. */
	a->s->sealed_sends_max = CLIENT_SEALED_SENDS_MAX;
	a->s->sealed_age_ms = 0;
	n0 = n_unidentified();
	CHECK_EQ_INT(send_n(a, 2), 0);
	CHECK_EQ_INT((int)(n_unidentified() - n0), 2);
	CHECK(got_texts(b, 10));
	/* Idle: closed by the idle check; not before (the default limit is a minute). */
	a->s->sealed_age_ms = CLIENT_SEALED_AGE_MS;
	client_sealed_close(a->s, 1);
	n0 = n_unidentified();
	CHECK_EQ_INT(send_n(a, 1), 0);
	n = unidentified(ids);
	REQUIRE(n == n0 + 1);
	sotto_close_idle(a->s);
	CHECK(a->s->sealed != NULL);
	a->s->sealed_idle_ms = 200;
	w.a = a;
	w.id = ids[n - 1];
	CHECK(wait_until(idle_closed, &w, T));
	CHECK(got_texts(b, 11));
	user_free(a);
	user_free(b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(killed_connection_neither_loses_nor_duplicates)
{
	struct user u[2], *a = &u[0], *b = &u[1];
	int64_t e0;
	size_t n0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nsealed_rate = 1000") == 0);
	REQUIRE(pair(a, b) == 0);
	CHECK_EQ_INT(send_n(a, 1), 0);
	REQUIRE(a->s->sealed != NULL);
	/* Dead both ways between two sends: the next send replaces it. */
	e0 = envelopes();
	n0 = n_unidentified();
	shutdown(conn_fd(a->s->sealed), SHUT_RDWR);
	CHECK_EQ_INT(send_n(a, 1), 0);
	CHECK_EQ_INT((int)(n_unidentified() - n0), 1);
	CHECK_EQ_INT((int)(envelopes() - e0), 1);
	/* The request goes out but its answer never comes back: sent again on a new
	 * connection, stored once. */
	e0 = envelopes();
	n0 = n_unidentified();
	shutdown(conn_fd(a->s->sealed), SHUT_RD);
	CHECK_EQ_INT(send_n(a, 1), 0);
	CHECK_EQ_INT((int)(n_unidentified() - n0), 1);
	CHECK_EQ_INT((int)(envelopes() - e0), 1);
	CHECK_EQ_INT(sotto_outbox_count(a->s), 0);
	CHECK(got_texts(b, 4));
	/* A server gone: the item waits in the outbox (not sent identified, not lost). */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGKILL), 128 + SIGKILL);
	CHECK(send_n(a, 1) < 0);
	CHECK_EQ_INT(sotto_outbox_count(a->s), 1);
	user_free(a);
	user_free(b);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(sends_share_one_connection_rotated_and_closed_when_idle);
	RUN(killed_connection_neither_loses_nor_duplicates);
	return check_summary();
}
