/*
 * The IMAP engine served on a random loopback port from a libuv loop thread, driven by real
 * clients nobody here wrote: Python's imaplib (tests/integration/imap_client.py) and curl,
 * plus raw-socket checks of the caps and the login limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "imap/imap_server.h"
#include "mail/mailstore_mem.h"
#include "check.h"
#include "uvthread.h"
#include "waitfor.h"

#define USER "bob@example.org"
#define PASS "correct horse"

static struct uvthread ut;
static struct mailstore ms;
static struct imap_server *srv;
static struct bridge_auth *auth;
static uint16_t port;
static int start_rc;

static const char msg1[] =
    "From: Alice Example <alice@example.org>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: Hello Bob\r\n"
    "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "\r\n"
    "Hi Bob,\r\nsee you soon.\r\n";

static const char msg2[] =
    "From: Alice Example <alice@example.org>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Cc: Carol <carol@example.org>\r\n"
    "Subject: The report\r\n"
    "Date: Fri, 02 Jan 2026 09:30:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "This is a multi-part message.\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "The report is attached.\r\n"
    "--b1\r\n"
    "Content-Type: application/pdf; name=report.pdf\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--b1--\r\n";

static const char msg3[] =
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.org\r\n"
    "Subject: Lunch?\r\n"
    "Date: Sat, 03 Jan 2026 11:00:00 +0000\r\n"
    "X-Mailer: sotto-test\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Hi\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>Hi</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: text/plain; name=notes.txt\r\n"
    "\r\n"
    "notes\r\n"
    "--outer--\r\n";

static const char msg4[] =
    "From: news@example.com\r\n"
    "To: list@example.com\r\n"
    "Subject: Old news\r\n"
    "Date: Fri, 31 Dec 1999 23:59:59 -0500\r\n"
    "\r\n"
    "Nothing new.\r\n";

static const char pushed[] =
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.org\r\n"
    "Subject: Pushed\r\n"
    "\r\n"
    "New mail while idling.\r\n";

static void
start_server(void *arg)
{
	char hash[BRIDGE_AUTH_HASH_BYTES];
	/* three failures per name at 20 ms, then doubling up to 200 ms */
	struct bridge_auth_config ac = {
		.user = USER, .pw_hash = hash, .fail_delay_ms = 20, .free_failures = 3,
		.delay_max_ms = 200,
	};
	struct imap_server_config cfg;
	char why[128];

	(void)arg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.imap.literal_max = 1 << 20;
	cfg.imap.out_high = 256 * 1024;
	start_rc = bridge_auth_hash_password(PASS, strlen(PASS), crypto_pwhash_OPSLIMIT_MIN,
	    crypto_pwhash_MEMLIMIT_MIN, hash);
	if (start_rc == 0)
		start_rc = bridge_auth_new(&auth, &ut.loop, &ac);
	cfg.auth = auth;
	if (start_rc == 0)
		start_rc = imap_server_start(&srv, &ut.loop, &ms, &cfg, why, sizeof(why));
	if (start_rc == 0)
		port = imap_server_port(srv);
}

static void
stop_server(void *arg)
{
	(void)arg;
	imap_server_stop(srv, NULL, NULL);
	bridge_auth_free(auth);
}

static int
add(const char *folder, const char *m, uint32_t flags, int64_t date)
{
	return ms.ops->append(ms.impl, folder, (const uint8_t *)m, strlen(m), flags, date, NULL);
}

static uint32_t
count(const char *folder)
{
	struct mailstore_status st;

	if (ms.ops->status(ms.impl, folder, &st) != 0)
		return UINT32_MAX;
	return st.messages;
}

/* Each line imaplib's script prints becomes one check here, under its own name. */
static void
run_python(void)
{
	char cmd[256], line[1024];
	FILE *f;
	int oks = 0, fails = 0, injected = 0;

	snprintf(cmd, sizeof(cmd), "python3 tests/integration/imap_client.py %u '%s' '%s' 2>&1",
	    port, USER, PASS);
	check_begin("imap_python_started");
	f = popen(cmd, "r");
	CHECK(f != NULL);
	check_end();
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = 0;
		if (strcmp(line, "INJECT") == 0) {
			/* delivered from this thread: the engine hears of it through the store */
			check_begin("imap_inject_while_idle");
			CHECK_EQ_INT(add("INBOX", pushed, 0, 1767400000), 0);
			check_end();
			injected = 1;
		} else if (strncmp(line, "ok - ", 5) == 0) {
			check_begin(line + 5);
			check_end();
			oks++;
		} else if (strncmp(line, "FAIL - ", 7) == 0) {
			char *why = strstr(line, ": ");
			if (why != NULL)
				*why = 0;
			check_begin(line + 7);
			check_fail(__FILE__, __LINE__, why != NULL ? why + 2 : "failed");
			check_end();
			fails++;
		} else {
			printf("     | %s\n", line);
		}
	}
	check_begin("imap_python_complete");
	CHECK_EQ_INT(pclose(f), 0);
	CHECK(injected);
	CHECK_EQ_INT(fails, 0);
	CHECK(oks >= 70);
	check_end();
}

static int
run_capture(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0, r;

	if (f == NULL)
		return -1;
	while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, f)) > 0)
		n += r;
	out[n] = 0;
	return pclose(f);
}

TEST(imap_curl)
{
	char cmd[512], out[8192];

	snprintf(cmd, sizeof(cmd), "curl -s --max-time %d -u '%s:%s' imap://127.0.0.1:%u/",
	    wait_scaled_ms(10000) / 1000, USER, PASS, port);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
	CHECK(strstr(out, "\"INBOX\"") != NULL && strstr(out, "\"Drafts\"") != NULL);
	snprintf(cmd, sizeof(cmd), "curl -s --max-time %d -u '%s:%s' "
	    "'imap://127.0.0.1:%u/INBOX;UID=1'", wait_scaled_ms(10000) / 1000, USER, PASS, port);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
	CHECK(strstr(out, "Subject: Hello Bob") != NULL && strstr(out, "see you soon.") != NULL);
	snprintf(cmd, sizeof(cmd), "curl -s --max-time %d -u '%s:%s' "
	    "'imap://127.0.0.1:%u/INBOX?SUBJECT%%20Pushed'", wait_scaled_ms(10000) / 1000, USER,
	    PASS, port);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
	CHECK(strstr(out, "* SEARCH 4") != NULL);
}

static int
count_files(const char *dir)
{
	char cmd[600], out[64];

	snprintf(cmd, sizeof(cmd), "ls -1 '%s' | wc -l", dir);
	if (run_capture(cmd, out, sizeof(out)) != 0)
		return -1;
	return atoi(out);
}

/* isync's mbsync, two-way: INBOX into a Maildir, then a flag and a new mail back. */
TEST(imap_mbsync_two_way)
{
	char dir[] = "/tmp/sotto-mbsync-XXXXXX", path[400], cmd[1200], out[16384];
	struct mailstore_status st;
	struct mailstore_msg *list;
	FILE *f;
	size_t n, i;
	const char *subj = "\r\nSubject: From the Maildir\r\n";
	int files, flagged = 0, appended = 0;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/mail", dir);
	REQUIRE(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/mbsyncrc", dir);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fprintf(f, "IMAPAccount bridge\nHost 127.0.0.1\nPort %u\nUser %s\nPass \"%s\"\n"
	    "SSLType None\nAuthMechs LOGIN\n\nIMAPStore remote\nAccount bridge\n\n"
	    "MaildirStore local\nPath %s/mail/\nInbox %s/mail/INBOX\n\n"
	    "Channel c\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\n"
	    "SyncState *\nSync All\nExpunge None\n", port, USER, PASS, dir, dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "mbsync -q -c %s/mbsyncrc -a 2>&1", dir);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
	if (out[0] && strstr(out, "in the clear") == NULL)
		printf("     | mbsync: %s\n", out);
	REQUIRE(ms.ops->status(ms.impl, "INBOX", &st) == 0);
	snprintf(path, sizeof(path), "%s/mail/INBOX/cur", dir);
	files = count_files(path);
	snprintf(path, sizeof(path), "%s/mail/INBOX/new", dir);
	files += count_files(path);
	CHECK_EQ_INT(files, st.messages);

	/* flag the first message locally, and write a new one */
	snprintf(cmd, sizeof(cmd), "cd %s/mail/INBOX/cur && f=$(ls | head -1) && "
	    "mv \"$f\" \"${f%%,*},F${f##*,}\" && "
	    "printf 'From: bob@example.org\\r\\nSubject: From the Maildir\\r\\n\\r\\nhi\\r\\n' "
	    "> %s/mail/INBOX/new/1700000000.1_1.host", dir, dir);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "mbsync -q -c %s/mbsyncrc -a 2>&1", dir);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
	if (out[0] && strstr(out, "in the clear") == NULL)
		printf("     | mbsync: %s\n", out);
	CHECK(ms.ops->status(ms.impl, "INBOX", &st) == 0);
	CHECK_EQ_INT(st.messages, files + 1);
	REQUIRE(ms.ops->list(ms.impl, "INBOX", &list, &n) == 0);
	for (i = 0; i < n; i++) {
		uint8_t *data;
		size_t len;
		if (list[i].flags & MAILSTORE_FLAGGED)
			flagged++;
		if (ms.ops->fetch(ms.impl, "INBOX", list[i].uid, &data, &len) == 0) {
			/* mbsync adds its own X-TUID header to what it uploads */
			if (memmem(data, len, subj, strlen(subj)) != NULL &&
			    len > 8 && memcmp(data + len - 8, "\r\n\r\nhi\r\n", 8) == 0)
				appended++;
			mailstore_release(&ms, data, len);
		}
	}
	free(list);
	CHECK(flagged >= 1);
	CHECK_EQ_INT(appended, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(run_capture(cmd, out, sizeof(out)), 0);
}

struct pane {
	char cmd[200];
	const char *want;
	char *screen;
	size_t cap;
};

static int
pane_has(void *arg)
{
	struct pane *p = arg;

	return run_capture(p->cmd, p->screen, p->cap) == 0 && strstr(p->screen, p->want) != NULL;
}

/* Polls a tmux pane until want shows (1) or 8 s (scaled) pass (0). */
static int
pane_shows(const char *session, const char *want, char *screen, size_t cap)
{
	struct pane p = { .want = want, .screen = screen, .cap = cap };

	snprintf(p.cmd, sizeof(p.cmd), "tmux capture-pane -p -t %s 2>&1", session);
	return wait_until(pane_has, &p, 8000);
}

/* neomutt in a tmux pane: the index lists the mail, and opening it shows the body. */
TEST(imap_neomutt_reads_mail)
{
	char dir[] = "/tmp/sotto-neomutt-XXXXXX", path[400], cmd[1200], screen[16384];
	char session[64];
	FILE *f;

	snprintf(session, sizeof(session), "sotto-imap-%d", (int)getpid());
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/muttrc", dir);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fprintf(f, "set folder=\"imap://127.0.0.1:%u/\"\nset spoolfile=\"+INBOX\"\n"
	    "set imap_user=\"%s\"\nset imap_pass=\"%s\"\nset ssl_starttls=no\n"
	    "set ssl_force_tls=no\nset header_cache=\"\"\nset message_cachedir=\"\"\n"
	    "set sort=date\nset mark_old=no\nset wait_key=no\nset pager_stop=yes\n", port,
	    USER, PASS);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "tmux new-session -d -s %s -x 160 -y 40 "
	    "'TERM=xterm HOME=%s neomutt -n -F %s/muttrc'", session, dir, dir);
	REQUIRE(run_capture(cmd, screen, sizeof(screen)) == 0);
	CHECK(pane_shows(session, "Hello Bob", screen, sizeof(screen)));
	/* search for it, open it */
	snprintf(cmd, sizeof(cmd), "tmux send-keys -t %s '/' 'Hello Bob' Enter && sleep 0.3 && "
	    "tmux send-keys -t %s Enter", session, session);
	CHECK(run_capture(cmd, screen, sizeof(screen)) == 0);
	CHECK(pane_shows(session, "see you soon.", screen, sizeof(screen)));
	if (check_failed_now())
		printf("     | screen:\n%s\n", screen);
	snprintf(cmd, sizeof(cmd), "tmux kill-session -t %s; rm -rf %s", session, dir);
	(void)run_capture(cmd, screen, sizeof(screen));
}

static int
login_fd(void)
{
	char buf[4096];
	int fd = uvthread_connect(port);

	if (fd < 0 || uvthread_read_until(fd, buf, sizeof(buf), "\r\n") != 0 ||
	    uvthread_send(fd, "L LOGIN " USER " \"" PASS "\"\r\n") != 0 ||
	    uvthread_read_until(fd, buf, sizeof(buf), "L OK") != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

TEST(imap_caps_refuse_before_allocation)
{
	static char big[70000];
	char buf[4096];
	int fd;

	REQUIRE((fd = uvthread_connect(port)) >= 0);
	REQUIRE(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	/* before login a literal is capped at 8 KiB */
	CHECK(uvthread_send(fd, "a LOGIN {100000}\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	CHECK(strncmp(buf, "a BAD [TOOBIG]", 14) == 0);
	/* an over-long line is thrown away and answered */
	memset(big, 'x', sizeof(big) - 3);
	memcpy(big + sizeof(big) - 3, "\r\n", 3);
	CHECK(uvthread_send(fd, big) == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	CHECK(strncmp(buf, "* BAD Line too long", 19) == 0);
	CHECK(uvthread_send(fd, "b NOOP\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "b OK") == 0);
	close(fd);

	/* after login the configured cap (1 MiB here) applies; LITERAL+ over it hangs up */
	REQUIRE((fd = login_fd()) >= 0);
	CHECK(uvthread_send(fd, "c APPEND INBOX {2000000}\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	CHECK(strncmp(buf, "c BAD [TOOBIG]", 14) == 0);
	CHECK(uvthread_send(fd, "d APPEND INBOX {2000000+}\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "* BYE") == 0);
	CHECK(uvthread_wait_eof(fd));
	close(fd);
}

TEST(imap_disconnect_mid_append_stores_nothing)
{
	char buf[4096];
	uint32_t before = count("INBOX");
	int fd;

	REQUIRE((fd = login_fd()) >= 0);
	CHECK(uvthread_send(fd, "a APPEND INBOX {100}\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "+ ") == 0);
	CHECK(uvthread_send(fd, "Subject: half\r\n\r\nonly part of the") == 0);
	close(fd);
	/* a second client orders us after the first connection's teardown */
	REQUIRE((fd = login_fd()) >= 0);
	CHECK(uvthread_send(fd, "b APPEND INBOX {16}\r\nSubject: x\r\n\r\nyz\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "b OK [APPENDUID") == 0);
	CHECK(uvthread_send(fd, "c LOGOUT\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "c OK") == 0);
	close(fd);
	CHECK_EQ_INT(count("INBOX"), before + 1);
}

TEST(imap_pipelined_after_async_login)
{
	char buf[8192];
	int fd;

	/* the password check runs on the thread pool; what follows LOGIN in the same segment
	 * waits for it and is answered after it, in order */
	REQUIRE((fd = uvthread_connect(port)) >= 0);
	REQUIRE(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	CHECK(uvthread_send(fd, "a LOGIN " USER " \"" PASS "\"\r\nb SELECT INBOX\r\n"
	    "c UID FETCH 1 (FLAGS)\r\nd LOGOUT\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "d OK") == 0);
	CHECK(strstr(buf, "a OK") != NULL && strstr(buf, "a OK") < strstr(buf, "b OK"));
	CHECK(strstr(buf, "b OK [READ-WRITE]") != NULL);
	CHECK(strstr(buf, "* 1 FETCH (FLAGS (\\Seen") != NULL && strstr(buf, " UID 1)") != NULL);
	CHECK(uvthread_wait_eof(fd));
	close(fd);
}

/* Receives until the tagged line "tail" ends what was read; returns the bytes read, or
 * 0 on EOF or timeout. Only the last few KiB are kept to look for it. */
static size_t
read_all_until(int fd, const char *tail)
{
	static char win[8192];
	size_t total = 0, len = 0, tl = strlen(tail);

	for (;;) {
		ssize_t n = recv(fd, win + len, sizeof(win) - 1 - len, 0);
		if (n <= 0)
			return 0;
		total += (size_t)n;
		len += (size_t)n;
		win[len] = 0;
		if (strstr(win, tail) != NULL)
			return total;
		if (len > sizeof(win) / 2) {
			memmove(win, win + len - tl, tl);
			len = tl;
		}
	}
}

TEST(imap_large_fetch_waits_for_slow_reader)
{
	enum { N = 24, SIZE = 256 * 1024 };
	char buf[4096], *msg;
	size_t got;
	int fd, i;

	/* 6 MiB of mail, more than the connection may queue (3.25 MiB here): the FETCH must
	 * pause while the client is slow instead of overflowing and being cut off */
	REQUIRE((msg = malloc(SIZE + 1)) != NULL);
	memset(msg, 'x', SIZE);
	memcpy(msg, "Subject: big\r\n\r\n", 16);
	for (i = 100; i < SIZE; i += 100)
		memcpy(msg + i - 2, "\r\n", 2);
	msg[SIZE] = 0;
	for (i = 0; i < N; i++)
		REQUIRE(add("Sent", msg, 0, 0) == 0);
	free(msg);
	REQUIRE((fd = login_fd()) >= 0);
	CHECK(uvthread_send(fd, "s SELECT Sent\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "s OK") == 0);
	CHECK(uvthread_send(fd, "f FETCH 1:* (BODY.PEEK[])\r\nn NOOP\r\n") == 0);
	usleep(300 * 1000);             /* a slow client: the server's queue fills meanwhile */
	got = read_all_until(fd, "n OK");
	CHECK(got > (size_t)N * SIZE);
	CHECK(uvthread_send(fd, "l LOGOUT\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "l OK") == 0);
	close(fd);
}

TEST(imap_login_failures_limited)
{
	char buf[4096];
	int fd, i;

	REQUIRE((fd = uvthread_connect(port)) >= 0);
	REQUIRE(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	for (i = 0; i < 2; i++) {
		CHECK(uvthread_send(fd, "a LOGIN " USER " wrong\r\n") == 0);
		CHECK(uvthread_read_until(fd, buf, sizeof(buf), "a NO [AUTHENTICATIONFAILED]") == 0);
	}
	/* the third failure on one connection ends it */
	CHECK(uvthread_send(fd, "a AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLm9yZwB4\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "* BYE") == 0);
	CHECK(uvthread_wait_eof(fd));
	close(fd);
	/* failures for the user's name and for another, from the same loopback address,
	 * never lock the user out (issue 18 item 6): they only delay the failure answers */
	REQUIRE((fd = uvthread_connect(port)) >= 0);
	REQUIRE(uvthread_read_until(fd, buf, sizeof(buf), "\r\n") == 0);
	CHECK(uvthread_send(fd, "b LOGIN " USER " wrong\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "b NO [AUTHENTICATIONFAILED]") == 0);
	CHECK(uvthread_send(fd, "b LOGIN mallory@example.org wrong\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "b NO [AUTHENTICATIONFAILED]") == 0);
	CHECK(uvthread_send(fd, "c LOGIN " USER " \"" PASS "\"\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "c OK") == 0);
	CHECK(uvthread_send(fd, "l LOGOUT\r\n") == 0);
	CHECK(uvthread_read_until(fd, buf, sizeof(buf), "l OK") == 0);
	close(fd);
}

int
main(void)
{
	if (sodium_init() < 0 || mailstore_mem_create(&ms, 1000) != 0)
		return 1;
	/* 2026-01-01 12:00, 2026-01-02, 2026-01-03 and 2025-12-01 UTC */
	if (add("INBOX", msg1, 0, 1767268800) || add("INBOX", msg2, 0, 1767355200) ||
	    add("INBOX", msg3, 0, 1767441600) || add("INBOX", msg4, MAILSTORE_SEEN, 1764590400))
		return 1;
	if (uvthread_start(&ut) != 0)
		return 1;
	uvthread_call(&ut, start_server, NULL);
	if (start_rc != 0)
		return 1;
	run_python();
	RUN(imap_curl);
	RUN(imap_mbsync_two_way);
	RUN(imap_neomutt_reads_mail);
	RUN(imap_caps_refuse_before_allocation);
	RUN(imap_disconnect_mid_append_stores_nothing);
	RUN(imap_pipelined_after_async_login);
	RUN(imap_large_fetch_waits_for_slow_reader);
	RUN(imap_login_failures_limited);
	uvthread_call(&ut, stop_server, NULL);
	uvthread_stop(&ut);
	mailstore_destroy(&ms);
	return check_summary();
}
