/*
 * The IMAP engine without sockets: two sessions on one store, fed byte strings, checked on
 * exactly what they answer (untagged updates between commands, the EXPUNGE deferral rule,
 * IDLE, literals split anywhere, caps), and that every mail it reads goes back to the store
 * to be wiped.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"
#include "mail/mailstore_mem.h"
#include "check.h"

struct peer {
	struct imap_session *s;
	char out[65536];
	size_t len;
	size_t sent;            /* of what was written, how much the "network" took */
	int closed;
};

static struct mailstore ms;

static int
peer_write(void *arg, const uint8_t *p, size_t n)
{
	struct peer *c = arg;

	if (n > sizeof(c->out) - 1 - c->len)
		n = sizeof(c->out) - 1 - c->len;
	memcpy(c->out + c->len, p, n);
	c->len += n;
	c->out[c->len] = 0;
	return 0;
}

static void
peer_close(void *arg)
{
	((struct peer *)arg)->closed = 1;
}

static int
peer_login(void *arg, const uint8_t *user, size_t ulen, const uint8_t *pass, size_t plen)
{
	(void)arg;
	return ulen == 1 && user[0] == 'u' && plen == 1 && pass[0] == 'p' ? 0 : SOTTO_ERR_AUTH;
}

static size_t
peer_backlog(void *arg)
{
	struct peer *c = arg;

	return c->len - c->sent;
}

static int
peer_open(struct peer *c, size_t literal_max)
{
	/* output "leaves" only when a test says so (sent = len) */
	struct imap_config cfg = { 1024, literal_max, 0, 3, 1 << 20 };
	struct imap_host host = { c, peer_write, peer_close, peer_login, peer_backlog };

	memset(c, 0, sizeof(*c));
	if (imap_session_new(&c->s, &cfg, &ms, &host) != 0)
		return -1;
	imap_session_start(c->s);
	return 0;
}

/* Sends s and returns what came back (cleared before). */
static const char *
say(struct peer *c, const char *s)
{
	c->len = 0;
	c->sent = 0;
	c->out[0] = 0;
	imap_session_feed(c->s, (const uint8_t *)s, strlen(s));
	return c->out;
}

static size_t
feed(struct peer *c, const char *s)
{
	return imap_session_feed(c->s, (const uint8_t *)s, strlen(s));
}

static int
has(const char *out, const char *want)
{
	return strstr(out, want) != NULL;
}

static void
fill(void)
{
	static const char m[] = "Subject: m\r\n\r\nbody\r\n";
	int i;

	mailstore_destroy(&ms);
	if (mailstore_mem_create(&ms, 77) != 0)
		abort();
	for (i = 0; i < 3; i++)
		if (ms.ops->append(ms.impl, "INBOX", (const uint8_t *)m, sizeof(m) - 1, 0, i, NULL))
			abort();
}

TEST(imap_session_untagged_updates)
{
	struct peer a, b;
	const char *o;

	fill();
	REQUIRE(peer_open(&a, 4096) == 0 && peer_open(&b, 4096) == 0);
	CHECK(has(say(&a, "1 LOGIN u p\r\n2 SELECT INBOX\r\n"), "* 3 EXISTS"));
	CHECK(has(say(&b, "1 LOGIN u p\r\n2 SELECT INBOX\r\n"), "2 OK [READ-WRITE]"));

	/* b deletes message 1: b is told at once */
	o = say(&b, "3 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n4 EXPUNGE\r\n");
	CHECK(has(o, "* 1 EXPUNGE\r\n4 OK"));
	CHECK(!has(o, "FETCH"));
	/* a learns of it, but not during FETCH, STORE or SEARCH (RFC 3501 7.4.1) */
	o = say(&a, "5 FETCH 2 (UID)\r\n");
	CHECK(has(o, "* 2 FETCH (UID 2)") && !has(o, "EXPUNGE"));
	o = say(&a, "6 SEARCH ALL\r\n");
	CHECK(has(o, "* SEARCH 2 3\r\n") && !has(o, "EXPUNGE"));
	o = say(&a, "7 NOOP\r\n");
	CHECK(has(o, "* 1 EXPUNGE\r\n7 OK"));
	o = say(&a, "8 FETCH 1:* (UID)\r\n");
	CHECK(has(o, "* 1 FETCH (UID 2)") && has(o, "* 2 FETCH (UID 3)"));

	/* flags changed elsewhere are reported; a session's own STORE is not repeated */
	say(&b, "9 STORE 2 +FLAGS (\\Flagged)\r\n");
	o = say(&a, "10 NOOP\r\n");
	CHECK(has(o, "* 2 FETCH (FLAGS (\\Flagged))\r\n10 OK"));
	o = say(&b, "11 NOOP\r\n");
	CHECK(!has(o, "FETCH"));

	/* new mail: EXISTS, and UIDs keep growing */
	CHECK(has(say(&b, "12 APPEND INBOX {7+}\r\nX: y\r\n\r\n"), "12 OK [APPENDUID 77 4]"));
	/* the search covers what a knew when it asked; the news follows it */
	o = say(&a, "13 UID SEARCH ALL\r\n");
	CHECK(has(o, "* SEARCH 2 3\r\n* 3 EXISTS\r\n13 OK"));
	CHECK(has(say(&a, "13 UID SEARCH ALL\r\n"), "* SEARCH 2 3 4\r\n"));

	/* MOVE: COPYUID untagged, then the EXPUNGE, then the tagged OK (RFC 6851) */
	o = say(&a, "14 UID MOVE 2 Trash\r\n");
	CHECK(has(o, "* OK [COPYUID 80 2 1] Moved\r\n* 1 EXPUNGE\r\n14 OK MOVE completed"));
	o = say(&a, "15 UID SEARCH ALL\r\n");
	CHECK(has(o, "* SEARCH 3 4\r\n"));
	o = say(&b, "16 STATUS Trash (MESSAGES)\r\n");
	CHECK(has(o, "(MESSAGES 1)") && has(o, "* 1 EXPUNGE"));

	/* UID EXPUNGE removes only the listed deleted messages */
	say(&a, "18 STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n");
	o = say(&a, "19 UID EXPUNGE 4\r\n");
	CHECK(has(o, "* 2 EXPUNGE\r\n19 OK") && !has(o, "* 1 EXPUNGE"));
	imap_session_free(a.s);
	imap_session_free(b.s);
}

TEST(imap_session_idle_push)
{
	struct peer a, b;

	fill();
	REQUIRE(peer_open(&a, 4096) == 0 && peer_open(&b, 4096) == 0);
	say(&a, "1 LOGIN u p\r\n2 SELECT INBOX\r\n");
	say(&b, "1 LOGIN u p\r\n2 SELECT INBOX\r\n");
	CHECK(has(say(&a, "3 IDLE\r\n"), "+ idling"));
	say(&b, "3 STORE 3 +FLAGS (\\Deleted)\r\n4 EXPUNGE\r\n5 APPEND INBOX {3+}\r\nX\r\n\r\n");
	a.len = 0;
	imap_session_changed(a.s);
	CHECK(has(a.out, "* 3 EXPUNGE") && has(a.out, "* 3 EXISTS"));
	/* nothing to report: nothing written */
	a.len = 0;
	a.out[0] = 0;
	imap_session_changed(a.s);
	CHECK_EQ_INT(a.len, 0);
	CHECK(has(say(&a, "DONE\r\n"), "3 OK IDLE terminated"));
	/* not idling: updates wait for the next command */
	say(&b, "6 STORE 1 +FLAGS (\\Seen)\r\n");
	a.len = 0;
	imap_session_changed(a.s);
	CHECK_EQ_INT(a.len, 0);
	CHECK(has(say(&a, "4 NOOP\r\n"), "* 1 FETCH (FLAGS (\\Seen))"));
	imap_session_free(a.s);
	imap_session_free(b.s);
}

TEST(imap_session_literals_split_anywhere)
{
	static const char cmds[] = "1 LOGIN {1}\r\nu {1}\r\np\r\n"
	    "2 APPEND Drafts (\\Draft \\Seen) {12}\r\nSubject: z\r\n\r\n"
	    "3 STATUS Drafts (MESSAGES UNSEEN)\r\n";
	struct peer a;
	size_t i;

	fill();
	REQUIRE(peer_open(&a, 4096) == 0);
	a.len = 0;
	for (i = 0; i < sizeof(cmds) - 1; i++)
		imap_session_feed(a.s, (const uint8_t *)cmds + i, 1);
	CHECK(has(a.out, "+ Ready for literal data\r\n+ Ready for literal data\r\n1 OK"));
	CHECK(has(a.out, "2 OK [APPENDUID 79 1]"));
	CHECK(has(a.out, "* STATUS \"Drafts\" (MESSAGES 1 UNSEEN 0)"));
	imap_session_free(a.s);
}

TEST(imap_session_disconnect_mid_append)
{
	struct peer a;
	struct mailstore_status st;

	fill();
	REQUIRE(peer_open(&a, 4096) == 0);
	say(&a, "1 LOGIN u p\r\n");
	CHECK(has(say(&a, "2 APPEND INBOX {50}\r\nSubject: cut\r\n"), "+ Ready"));
	imap_session_free(a.s);         /* the peer went away */
	CHECK(ms.ops->status(ms.impl, "INBOX", &st) == 0 && st.messages == 3 && st.uidnext == 4);
	/* a complete APPEND whose command line is missing its end is not run either */
	REQUIRE(peer_open(&a, 4096) == 0);
	say(&a, "1 LOGIN u p\r\n2 APPEND INBOX {3+}\r\nabc");
	imap_session_free(a.s);
	CHECK(ms.ops->status(ms.impl, "INBOX", &st) == 0 && st.messages == 3);
}

TEST(imap_session_caps)
{
	struct peer a;
	char line[1100];
	const char *o;

	fill();
	REQUIRE(peer_open(&a, 4096) == 0);
	memset(line, 'a', sizeof(line));
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	CHECK(has(say(&a, line), "* BAD Line too long"));
	CHECK(has(say(&a, "1 NOOP\r\n"), "1 OK"));
	CHECK(has(say(&a, "2 LOGIN {9000}\r\n"), "2 BAD [TOOBIG]"));
	say(&a, "3 LOGIN u p\r\n");
	CHECK(has(say(&a, "4 APPEND INBOX {5000}\r\n"), "4 BAD [TOOBIG]"));
	CHECK(has(say(&a, "5 NOOP\r\n"), "5 OK"));
	o = say(&a, "6 APPEND INBOX {5000+}\r\n");
	CHECK(has(o, "* BYE") && a.closed && imap_session_done(a.s));
	imap_session_free(a.s);

	/* three failed logins end the connection */
	REQUIRE(peer_open(&a, 4096) == 0);
	o = say(&a, "1 LOGIN u x\r\n2 LOGIN u y\r\n3 AUTHENTICATE PLAIN AHUAeg==\r\n4 NOOP\r\n");
	CHECK(has(o, "1 NO [AUTHENTICATIONFAILED]") && has(o, "3 NO") && has(o, "* BYE"));
	CHECK(!has(o, "4 OK") && imap_session_done(a.s));
	imap_session_free(a.s);

	/* AUTHENTICATE with a continuation, and a cancelled one */
	REQUIRE(peer_open(&a, 4096) == 0);
	CHECK(has(say(&a, "1 AUTHENTICATE PLAIN\r\n"), "+ \r\n"));
	CHECK(has(say(&a, "*\r\n"), "1 BAD"));
	CHECK(has(say(&a, "2 AUTHENTICATE PLAIN\r\n"), "+ \r\n"));
	CHECK(has(say(&a, "AHUAcA==\r\n"), "2 OK"));
	CHECK(has(say(&a, "3 SELECT inbox\r\n4 EXAMINE Nope\r\n5 FETCH 1 FLAGS\r\n"),
	    "4 NO") && has(a.out, "5 BAD"));
	/* a bad STATUS item takes back only its own half-written line */
	o = say(&a, "6 NOOP\r\n7 STATUS INBOX (MESSAGES BOGUS)\r\n");
	CHECK(has(o, "6 OK") && has(o, "7 BAD") && !has(o, "* STATUS"));
	imap_session_free(a.s);
}

TEST(imap_session_fetch_pauses_for_output)
{
	static const char big[] = "Subject: big\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
	struct imap_config cfg = { 1024, 4096, 0, 3, 10 };
	struct peer a;
	struct imap_host host = { &a, peer_write, peer_close, peer_login, peer_backlog };
	static const char noop[] = "G NOOP\r\n";
	int i, rounds = 0;

	fill();
	for (i = 0; i < 3; i++)
		REQUIRE(ms.ops->append(ms.impl, "INBOX", (const uint8_t *)big, sizeof(big) - 1, 0,
		    0, NULL) == 0);
	memset(&a, 0, sizeof(a));
	REQUIRE(imap_session_new(&a.s, &cfg, &ms, &host) == 0);
	say(&a, "1 LOGIN u p\r\n2 SELECT INBOX\r\n");
	a.len = a.sent = 0;
	/* nothing leaves: after one message the FETCH waits, and so does the next command */
	CHECK_EQ_INT(feed(&a, "F FETCH 1:* (UID BODY.PEEK[])\r\n"), 31);
	CHECK(has(a.out, "* 1 FETCH (UID 1 BODY[]") && !has(a.out, "* 2 FETCH"));
	CHECK_EQ_INT(feed(&a, noop), 0);
	/* each time the queue drains, a little more */
	while (!has(a.out, "F OK") && rounds++ < 20) {
		a.sent = a.len;
		if (imap_session_drained(a.s))
			break;
	}
	CHECK(has(a.out, "* 6 FETCH (UID 6 BODY[]") && has(a.out, "F OK FETCH completed"));
	CHECK(rounds >= 5);
	/* the tagged answer went out while output was still queued: input waits once more */
	a.sent = a.len;
	CHECK_EQ_INT(imap_session_drained(a.s), 1);
	CHECK(has(say(&a, noop), "G OK"));
	imap_session_free(a.s);

	/* a client that goes away during a paused FETCH leaves nothing behind (ASan) */
	memset(&a, 0, sizeof(a));
	REQUIRE(imap_session_new(&a.s, &cfg, &ms, &host) == 0);
	say(&a, "1 LOGIN u p\r\n2 SELECT INBOX\r\n");
	a.len = a.sent = 0;
	CHECK(feed(&a, "F FETCH 1:* (BODY[HEADER.FIELDS (Subject)])\r\n") > 0);
	CHECK(!has(a.out, "F OK"));
	imap_session_free(a.s);
}

/*
 * A backend over mailstore_mem that keeps account of the mail bytes fetch hands out: each
 * must come back through release (which wipes it), the same pointer with the same length,
 * never through free().
 */
struct counting {
	struct mailstore inner;
	uint8_t *out[8];
	size_t out_len[8];
	size_t fetched, released, strays;
};

static int
cnt_folders(void *impl, struct mailstore_folder *out, size_t max, size_t *n)
{
	struct counting *c = impl;

	return c->inner.ops->folders(c->inner.impl, out, max, n);
}

static int
cnt_status(void *impl, const char *folder, struct mailstore_status *st)
{
	struct counting *c = impl;

	return c->inner.ops->status(c->inner.impl, folder, st);
}

static int
cnt_list(void *impl, const char *folder, struct mailstore_msg **out, size_t *n)
{
	struct counting *c = impl;

	return c->inner.ops->list(c->inner.impl, folder, out, n);
}

static int
cnt_fetch(void *impl, const char *folder, uint32_t uid, uint8_t **data, size_t *len)
{
	struct counting *c = impl;
	size_t i;
	int r = c->inner.ops->fetch(c->inner.impl, folder, uid, data, len);

	if (r != 0)
		return r;
	for (i = 0; i < 8 && c->out[i] != NULL; i++)
		;
	if (i == 8)
		abort();        /* more than 8 outstanding: the engine holds on to mail */
	c->out[i] = *data;
	c->out_len[i] = *len;
	c->fetched++;
	return 0;
}

static void
cnt_release(void *impl, uint8_t *data, size_t len)
{
	struct counting *c = impl;
	size_t i;

	for (i = 0; i < 8; i++)
		if (c->out[i] == data && c->out_len[i] == len)
			break;
	if (i == 8) {
		c->strays++;
	} else {
		c->out[i] = NULL;
		c->released++;
	}
	c->inner.ops->release(c->inner.impl, data, len);
}

static int
cnt_set_flags(void *impl, const char *folder, uint32_t uid, uint32_t flags)
{
	struct counting *c = impl;

	return c->inner.ops->set_flags(c->inner.impl, folder, uid, flags);
}

static int
cnt_append(void *impl, const char *folder, const uint8_t *data, size_t len, uint32_t flags,
    int64_t date, uint32_t *uid)
{
	struct counting *c = impl;

	return c->inner.ops->append(c->inner.impl, folder, data, len, flags, date, uid);
}

static int
cnt_copy(void *impl, const char *from, uint32_t uid, const char *to, uint32_t *new_uid)
{
	struct counting *c = impl;

	return c->inner.ops->copy(c->inner.impl, from, uid, to, new_uid);
}

static int
cnt_expunge(void *impl, const char *folder, const uint32_t *uids, size_t n)
{
	struct counting *c = impl;

	return c->inner.ops->expunge(c->inner.impl, folder, uids, n);
}

static void
cnt_watch(void *impl, mailstore_watch_fn fn, void *arg)
{
	struct counting *c = impl;

	c->inner.ops->watch(c->inner.impl, fn, arg);
}

static void
cnt_destroy(void *impl)
{
	struct counting *c = impl;

	mailstore_destroy(&c->inner);
}

static const struct mailstore_ops cnt_ops = {
	.folders = cnt_folders,
	.status = cnt_status,
	.list = cnt_list,
	.fetch = cnt_fetch,
	.release = cnt_release,
	.set_flags = cnt_set_flags,
	.append = cnt_append,
	.copy = cnt_copy,
	.expunge = cnt_expunge,
	.watch = cnt_watch,
	.destroy = cnt_destroy,
};

TEST(imap_session_gives_every_mail_back_to_be_wiped)
{
	static struct counting cnt;
	struct peer a;
	const char *o;
	size_t i;

	fill();
	memset(&cnt, 0, sizeof(cnt));
	cnt.inner = ms;                 /* the counting store owns the filled one now */
	ms.ops = &cnt_ops;
	ms.impl = &cnt;
	REQUIRE(peer_open(&a, 4096) == 0);
	CHECK(has(say(&a, "1 LOGIN u p\r\n2 SELECT INBOX\r\n"), "* 3 EXISTS"));
	/* whole messages, parts of them, and the body search: each reads the mail */
	o = say(&a, "3 FETCH 1:* (BODY.PEEK[])\r\n");
	CHECK(has(o, "* 3 FETCH") && has(o, "3 OK"));
	o = say(&a, "4 FETCH 2 (BODY[HEADER.FIELDS (Subject)] BODYSTRUCTURE)\r\n");
	CHECK(has(o, "4 OK"));
	o = say(&a, "5 SEARCH BODY body\r\n");
	CHECK(has(o, "* SEARCH 1 2 3\r\n5 OK"));
	o = say(&a, "6 SEARCH BODY nowhere\r\n");
	CHECK(has(o, "* SEARCH\r\n6 OK"));
	/* metadata alone reads no mail */
	i = cnt.fetched;
	CHECK(has(say(&a, "7 FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n"), "7 OK"));
	CHECK_EQ_INT(cnt.fetched, i);
	imap_session_free(a.s);
	CHECK_EQ_INT(cnt.fetched, 3 + 1 + 3 + 3);
	CHECK_EQ_INT(cnt.released, cnt.fetched);
	CHECK_EQ_INT(cnt.strays, 0);
	for (i = 0; i < 8; i++)
		CHECK(cnt.out[i] == NULL);
}

int
main(void)
{
	RUN(imap_session_untagged_updates);
	RUN(imap_session_idle_push);
	RUN(imap_session_literals_split_anywhere);
	RUN(imap_session_disconnect_mid_append);
	RUN(imap_session_caps);
	RUN(imap_session_fetch_pauses_for_output);
	RUN(imap_session_gives_every_mail_back_to_be_wiped);
	mailstore_destroy(&ms);
	return check_summary();
}
