/*
 * The whole bridge in this process (bridge_runner_start): two accounts on a real sottod,
 * alice submits over SMTP on a raw socket, bob reads over IMAP. Also every way a start
 * can fail, each leaving nothing behind (ASan checks the leaks).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bridge/bridge.h"
#include "mail/mail_content.h"
#include "bridge/sasl.h"
#include "check.h"
#include "sottod_proc.h"
#include "uvthread.h"
#include "waitfor.h"

#define PASS "runner passphrase"

static struct sottod_proc sp;
static char root[256];

static int
account(const char *name, int registered)
{
	char home[300], addr[64];
	struct sotto *s = NULL;
	int r;

	snprintf(home, sizeof(home), "%s/%s", root, name);
	snprintf(addr, sizeof(addr), "%s@localhost", name);
	if (sotto_create(&s, home, (const uint8_t *)PASS, strlen(PASS), SOTTO_KDF_MIN) != 0)
		return -1;
	r = registered ? sotto_init(s, addr, sp.address, NULL, 5000) : 0;
	sotto_close(s);
	return r;
}

struct started {
	struct bridge_runner *r;
	char smtp[32], imap[32], why[256];
	unsigned short smtp_port, imap_port;
};

static int
start_mode(struct started *st, const char *name, const char *pass, int send_only)
{
	struct bridge_run_config cfg;
	char home[300];

	snprintf(home, sizeof(home), "%s/%s", root, name);
	st->smtp_port = sottod_proc_free_port();
	st->imap_port = sottod_proc_free_port();
	snprintf(st->smtp, sizeof(st->smtp), "127.0.0.1:%u", st->smtp_port);
	snprintf(st->imap, sizeof(st->imap), "127.0.0.1:%u", st->imap_port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = home;
	cfg.pass = (const uint8_t *)pass;
	cfg.pass_len = strlen(pass);
	cfg.smtp = st->smtp;
	cfg.imap = st->imap;
	cfg.send_only = send_only;
	st->r = NULL;
	return bridge_runner_start(&st->r, &cfg, st->why, sizeof(st->why));
}

static int
start(struct started *st, const char *name, const char *pass)
{
	return start_mode(st, name, pass, 0);
}

/* The password `sotto bridge --show-password` would print. */
static int
password(const char *name, char pw[BRIDGE_PASSWORD_CHARS + 1])
{
	char home[300], hash[SOTTO_BRIDGE_HASH_MAX];
	struct sotto *s;
	int created, r;

	snprintf(home, sizeof(home), "%s/%s", root, name);
	if (sotto_open(&s, home, (const uint8_t *)PASS, strlen(PASS)) != 0)
		return -1;
	r = sotto_bridge_password(s, pw, hash, &created);
	sotto_close(s);
	return r == 0 && !created ? 0 : -1;
}

TEST(runner_start_failures_leave_nothing)
{
	struct started st, busy;
	struct bridge_run_config cfg;
	char home[300];

	CHECK_EQ_INT(start(&st, "nobody", PASS), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(start(&st, "alice", "wrong"), SOTTO_ERR_PASSPHRASE);
	CHECK_EQ_INT(start(&st, "unregistered", PASS), SOTTO_ERR_STATE);
	/* a port in use: the SMTP side says so */
	REQUIRE(start(&busy, "alice", PASS) == 0);
	snprintf(home, sizeof(home), "%s/alice", root);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = home;
	cfg.pass = (const uint8_t *)PASS;
	cfg.pass_len = strlen(PASS);
	cfg.smtp = busy.smtp;
	cfg.imap = "127.0.0.1:1";
	CHECK(bridge_runner_start(&st.r, &cfg, st.why, sizeof(st.why)) != 0 && st.r == NULL);
	CHECK(strstr(st.why, "SMTP") != NULL);
	cfg.smtp = "127.0.0.1:0x";
	CHECK_EQ_INT(bridge_runner_start(&st.r, &cfg, st.why, sizeof(st.why)),
	    SOTTO_ERR_INVALID_ARG);
	cfg.smtp = "10.1.2.3:2525";
	CHECK(bridge_runner_start(&st.r, &cfg, st.why, sizeof(st.why)) != 0);
	CHECK(strstr(st.why, "loopback") != NULL);
	bridge_runner_stop(busy.r);
}

/* Issue 14: a process unlocks the store once. From a home and passphrase the runner runs
 * Argon2id once (it used to open the store twice); from an open account, not at all. */
TEST(runner_unlocks_the_store_once)
{
	struct started st;
	struct bridge_run_config cfg;
	struct sotto *s = NULL;
	char home[300];
	unsigned long before = sotto_unlock_count();

	REQUIRE(start(&st, "alice", PASS) == 0);
	CHECK_EQ_INT((int)(sotto_unlock_count() - before), 1);
	bridge_runner_stop(st.r);
	snprintf(home, sizeof(home), "%s/alice", root);
	REQUIRE(sotto_open(&s, home, (const uint8_t *)PASS, strlen(PASS)) == 0);
	before = sotto_unlock_count();
	memset(&cfg, 0, sizeof(cfg));
	cfg.account = s;
	cfg.smtp = st.smtp;     /* free a moment ago: the first start let them go */
	cfg.imap = st.imap;
	CHECK_EQ_INT(bridge_runner_start(&st.r, &cfg, st.why, sizeof(st.why)), 0);
	CHECK_EQ_INT((int)(sotto_unlock_count() - before), 0);
	/* the caller's handle is its own: closing it leaves the bridge running */
	sotto_close(s);
	if (st.r != NULL)
		bridge_runner_stop(st.r);
}

/* A connection that was greeted and said EHLO, with alice's AUTH PLAIN line for pw in
 * auth (then appended to it): the socket or -1. */
static int
smtp_hello(unsigned short port, const char *pw, const char *then, char *auth, size_t auth_cap,
    char *buf, size_t cap)
{
	char plain[400], b64[600];
	size_t n;
	int fd = uvthread_connect(port);

	if (fd < 0)
		return -1;
	n = (size_t)snprintf(plain, sizeof(plain), "%calice@localhost%c%s", 0, 0, pw);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)plain, n,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, auth_cap, "AUTH PLAIN %s\r\n%s", b64, then);
	if (uvthread_read_until(fd, buf, cap, "220 ") != 0 ||
	    uvthread_send(fd, "EHLO test\r\n") != 0 ||
	    uvthread_read_until(fd, buf, cap, "250 ") != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
smtp_send(unsigned short port, const char *pw, const char *mail)
{
	char buf[4096], line[700];
	int fd, ok = -1;

	if ((fd = smtp_hello(port, pw, "", line, sizeof(line), buf, sizeof(buf))) < 0)
		return -1;
	if (uvthread_send(fd, line) == 0 &&
	    uvthread_read_until(fd, buf, sizeof(buf), "235 ") == 0 &&
	    uvthread_send(fd, "MAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@localhost>\r\n"
	    "RCPT TO:<eve@example.com>\r\nDATA\r\n") == 0 &&
	    uvthread_read_until(fd, buf, sizeof(buf), "354 ") == 0 &&
	    strstr(buf, "550 5.7.1") != NULL &&
	    uvthread_send(fd, mail) == 0 && uvthread_send(fd, ".\r\n") == 0 &&
	    uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0 &&
	    strncmp(buf, "250 ", 4) == 0)
		ok = 0;
	(void)uvthread_send(fd, "QUIT\r\n");
	close(fd);
	return ok;
}

/* alice's replies to MAIL and to RCPT TO each of to[], in one transaction, into buf. */
static int
smtp_rcpts(unsigned short port, const char *pw, const char *const *to, size_t n, char *buf,
    size_t cap)
{
	char line[700];
	size_t i;
	int fd, r = -1;

	if ((fd = smtp_hello(port, pw, "MAIL FROM:<alice@localhost>\r\n", line, sizeof(line),
	    buf, cap)) < 0)
		return -1;
	if (uvthread_send(fd, line) != 0 || uvthread_read_until(fd, buf, cap, "250 2.1.0") != 0)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to[i]);
		if (uvthread_send(fd, line) != 0)
			goto out;
	}
	if (uvthread_send(fd, "QUIT\r\n") == 0 &&
	    uvthread_read_until(fd, buf, cap, "221 ") == 0)
		r = 0;
out:
	close(fd);
	return r;
}

/* Beside another connection of the account (the daemon), RCPT still asks the server:
 * the bridge connects for it. An unknown user is refused at RCPT, a known one accepted,
 * each in order. */
TEST(runner_send_only_checks_recipients)
{
	static const char *const to[] = { "nobody@localhost", "bob@localhost",
	    "eve@example.com", "Bob@localhost" };
	struct started a;
	char pa[BRIDGE_PASSWORD_CHARS + 1], buf[8192];
	const char *p1, *p2, *p3, *p4;

	REQUIRE(password("alice", pa) == 0);
	REQUIRE(start_mode(&a, "alice", PASS, 1) == 0);
	CHECK(smtp_rcpts(a.smtp_port, pa, to, 4, buf, sizeof(buf)) == 0);
	p1 = strstr(buf, "550 5.1.1 <nobody@localhost>: no such user on this Sotto server");
	p2 = strstr(buf, "250 2.1.5 Recipient <bob@localhost> OK");
	p3 = strstr(buf, "550 5.7.1 <eve@example.com>");
	p4 = strstr(buf, "250 2.1.5 Recipient <Bob@localhost> OK");
	CHECK(p1 != NULL && p2 != NULL && p3 != NULL && p4 != NULL);
	CHECK(p1 < p2 && p2 < p3 && p3 < p4);
	bridge_runner_stop(a.r);
	sodium_memzero(pa, sizeof(pa));
}

struct inbox_wait {
	int fd;
	char *buf;
	size_t cap;
	int broken;
};

/* bob's INBOX holds the mail (or the IMAP connection broke: stop waiting). */
static int
inbox_has_one(void *arg)
{
	struct inbox_wait *w = arg;

	if (uvthread_send(w->fd, "s STATUS INBOX (MESSAGES)\r\n") != 0 ||
	    uvthread_read_until(w->fd, w->buf, w->cap, "s OK") != 0) {
		w->broken = 1;
		return 1;
	}
	return strstr(w->buf, "(MESSAGES 1)") != NULL;
}

/* bob logged in over IMAP once cond holds for his INBOX: the socket, or -1. */
static int
bob_imap_when(unsigned short port, const char *pw, int (*cond)(void *), struct inbox_wait *w)
{
	char cmd[200];
	int fd = uvthread_connect(port);

	snprintf(cmd, sizeof(cmd), "a LOGIN bob@localhost \"%s\"\r\n", pw);
	if (fd < 0 || uvthread_read_until(fd, w->buf, w->cap, "* OK") != 0 ||
	    uvthread_send(fd, cmd) != 0 || uvthread_read_until(fd, w->buf, w->cap, "a OK") != 0)
		goto fail;
	w->fd = fd;
	if (wait_until(cond, w, 10000) && !w->broken)
		return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

TEST(runner_carries_mail_from_smtp_to_imap)
{
	static const char mail[] = "From: alice@localhost\r\nTo: bob@localhost\r\n"
	    "Subject: in process\r\n\r\nbody line\r\n";
	struct started a, b;
	char pa[BRIDGE_PASSWORD_CHARS + 1], pb[BRIDGE_PASSWORD_CHARS + 1];
	char buf[8192];
	struct inbox_wait w = { -1, buf, sizeof(buf), 0 };
	int fd;

	REQUIRE(start(&a, "alice", PASS) == 0);
	CHECK(strcmp(bridge_runner_user(a.r), "alice@localhost") == 0);
	CHECK(!bridge_runner_new_password(a.r));        /* made by the first start above */
	if (start(&b, "bob", PASS) != 0) {
		bridge_runner_stop(a.r);
		REQUIRE(0);
	}
	CHECK(bridge_runner_new_password(b.r));
	CHECK_EQ_INT(bridge_runner_smtp_port(a.r), a.smtp_port);
	CHECK_EQ_INT(bridge_runner_imap_port(b.r), b.imap_port);
	CHECK(password("alice", pa) == 0 && password("bob", pb) == 0);
	CHECK(smtp_send(a.smtp_port, pa, mail) == 0);

	fd = bob_imap_when(b.imap_port, pb, inbox_has_one, &w);
	CHECK(fd >= 0);
	CHECK(fd >= 0 && uvthread_send(fd, "e EXAMINE INBOX\r\nf FETCH 1 BODY[]\r\n") == 0 &&
	    uvthread_read_until(fd, buf, sizeof(buf), "f OK") == 0);
	CHECK(strstr(buf, mail) != NULL);
	if (fd >= 0)
		close(fd);
	bridge_runner_stop(a.r);
	bridge_runner_stop(b.r);
	sodium_memzero(pa, sizeof(pa));
	sodium_memzero(pb, sizeof(pb));
}

/* bob's INBOX holds a mail with Subject "forged". */
static int
forged_arrived(void *arg)
{
	struct inbox_wait *w = arg;

	if (uvthread_send(w->fd, "s EXAMINE INBOX\r\nq SEARCH SUBJECT forged\r\n") != 0 ||
	    uvthread_read_until(w->fd, w->buf, w->cap, "q OK") != 0) {
		w->broken = 1;
		return 1;
	}
	return strstr(w->buf, "* SEARCH ") != NULL;
}

/* Issue 18 item 1, the receiving side: alice crafts a mail with libsotto directly (past
 * her bridge's SMTP check) that claims to be from carol. bob's bridge files it as from
 * alice, whom the session authenticated: ENVELOPE and the header show alice, the claims
 * stay visible only in X-Sotto-Claimed-* fields, and one planted there is dropped. */
TEST(runner_forged_from_is_filed_as_the_sender)
{
	static const char forged[] = "From: The Director <carol@localhost>\r\n"
	    "Sender: carol@localhost\r\n"
	    "X-Sotto-Claimed-From: planted by alice\r\n"
	    "To: bob@localhost\r\nSubject: forged\r\n\r\nbody of the forged mail\r\n";
	uint8_t msgid[SOTTO_ID_LEN];
	struct started b;
	struct sotto *s = NULL;
	char home[300], pb[BRIDGE_PASSWORD_CHARS + 1], buf[8192], cmd[200], *env;
	struct inbox_wait w = { -1, buf, sizeof(buf), 0 };
	int fd;

	snprintf(home, sizeof(home), "%s/alice", root);
	REQUIRE(sotto_open(&s, home, (const uint8_t *)PASS, strlen(PASS)) == 0);
	/* the whole mail: libsotto splits it */
	CHECK(sotto_send_mail(s, "bob@localhost", (const uint8_t *)forged, strlen(forged),
	    msgid) == 0);
	sotto_close(s);

	REQUIRE(password("bob", pb) == 0);
	REQUIRE(start(&b, "bob", PASS) == 0);
	fd = bob_imap_when(b.imap_port, pb, forged_arrived, &w);
	CHECK(fd >= 0);
	/* buf: "* SEARCH n" */
	env = strstr(buf, "* SEARCH ");
	snprintf(cmd, sizeof(cmd), "e FETCH %d ENVELOPE\r\n", env != NULL ? atoi(env + 9) : 1);
	CHECK(fd >= 0 && uvthread_send(fd, cmd) == 0 &&
	    uvthread_read_until(fd, buf, sizeof(buf), "e OK") == 0);
	/* from, sender and reply-to: alice, and carol nowhere */
	CHECK(strstr(buf, "((NIL NIL \"alice\" \"localhost\")) ((NIL NIL \"alice\" \"localhost\")) "
	    "((NIL NIL \"alice\" \"localhost\"))") != NULL);
	CHECK(strstr(buf, "carol") == NULL && strstr(buf, "Director") == NULL);
	snprintf(cmd, sizeof(cmd), "h FETCH %d BODY.PEEK[HEADER]\r\n",
	    env != NULL ? atoi(env + 9) : 1);
	CHECK(fd >= 0 && uvthread_send(fd, cmd) == 0 &&
	    uvthread_read_until(fd, buf, sizeof(buf), "h OK") == 0);
	CHECK(strstr(buf, "From: alice@localhost\r\n") != NULL);
	CHECK(strstr(buf, "X-Sotto-Claimed-From: The Director <carol@localhost>\r\n") != NULL);
	CHECK(strstr(buf, "X-Sotto-Claimed-Sender: carol@localhost\r\n") != NULL);
	CHECK(strstr(buf, "\nFrom: The Director") == NULL && strstr(buf, "\nSender:") == NULL);
	CHECK(strstr(buf, "planted") == NULL);
	CHECK(strstr(buf, "Subject: forged\r\n") != NULL);
	if (fd >= 0)
		close(fd);
	bridge_runner_stop(b.r);
	sodium_memzero(pb, sizeof(pb));
}

/* sotto_bridge_password: made once, then the same pair from any handle; the hash is the
 * password's; the runner takes it as it is. */
TEST(bridge_password_made_once_and_kept)
{
	static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";
	char home[300], pw[SOTTO_BRIDGE_PASSWORD_CHARS + 1], pw2[SOTTO_BRIDGE_PASSWORD_CHARS + 1];
	char hash[SOTTO_BRIDGE_HASH_MAX], hash2[SOTTO_BRIDGE_HASH_MAX];
	struct sotto *s = NULL;
	struct started st;
	int created = -1;

	snprintf(home, sizeof(home), "%s/carol", root);
	REQUIRE(sotto_open(&s, home, (const uint8_t *)PASS, strlen(PASS)) == 0);
	CHECK_EQ_INT(sotto_bridge_password(s, pw, hash, &created), 0);
	CHECK_EQ_INT(created, 1);
	CHECK_EQ_INT(strlen(pw), SOTTO_BRIDGE_PASSWORD_CHARS);
	CHECK_EQ_INT(strspn(pw, base32), SOTTO_BRIDGE_PASSWORD_CHARS);
	CHECK(crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0);
	CHECK(crypto_pwhash_str_verify(hash, "x", 1) != 0);
	CHECK(sotto_bridge_password(s, pw2, hash2, &created) == 0 && created == 0);
	CHECK(strcmp(pw, pw2) == 0 && strcmp(hash, hash2) == 0);
	sotto_close(s);
	/* kept in the store: another handle gets the same pair */
	REQUIRE(sotto_open(&s, home, (const uint8_t *)PASS, strlen(PASS)) == 0);
	memset(pw2, 0, sizeof(pw2));
	CHECK(sotto_bridge_password(s, pw2, hash2, &created) == 0 && created == 0);
	CHECK(strcmp(pw, pw2) == 0 && strcmp(hash, hash2) == 0);
	sotto_close(s);
	/* and the bridge started on the account does not make another */
	REQUIRE(start(&st, "carol", PASS) == 0);
	CHECK(!bridge_runner_new_password(st.r));
	bridge_runner_stop(st.r);
	CHECK(password("carol", pw2) == 0 && strcmp(pw, pw2) == 0);
	/* random: another account's is another */
	CHECK(password("alice", pw2) == 0 && strcmp(pw, pw2) != 0);
	/* an account without keys has none, and gets none */
	snprintf(home, sizeof(home), "%s/unregistered", root);
	REQUIRE(sotto_open(&s, home, (const uint8_t *)PASS, strlen(PASS)) == 0);
	created = -1;
	CHECK_EQ_INT(sotto_bridge_password(s, pw2, hash2, &created), SOTTO_ERR_STATE);
	CHECK(created == 0 && pw2[0] == '\0' && hash2[0] == '\0');
	sotto_close(s);
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(pw2, sizeof(pw2));
}

int
main(void)
{
	char cmd[300];
	int r;

	if (sodium_init() < 0)
		return 1;
	if (sottod_proc_launch(&sp, "registration = open") != 0) {
		printf("FAIL - setup: cannot start %s\n", sottod_proc_binary());
		sottod_proc_cleanup(&sp);
		return 1;
	}
	snprintf(root, sizeof(root), "%s/clients", sp.dir);
	if (mkdir(root, 0700) != 0 || account("alice", 1) != 0 || account("bob", 1) != 0 ||
	    account("carol", 1) != 0 || account("unregistered", 0) != 0) {
		printf("FAIL - setup: accounts\n");
		sottod_proc_cleanup(&sp);
		return 1;
	}
	RUN(runner_start_failures_leave_nothing);
	RUN(runner_unlocks_the_store_once);
	RUN(runner_carries_mail_from_smtp_to_imap);
	RUN(runner_send_only_checks_recipients);
	RUN(runner_forged_from_is_filed_as_the_sender);
	RUN(bridge_password_made_once_and_kept);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	r = system(cmd);
	(void)r;
	sottod_proc_cleanup(&sp);
	return check_summary();
}
