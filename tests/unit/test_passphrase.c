#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "cli/passphrase.h"

static char path[64];

static void
write_file(const char *content, size_t n, mode_t mode)
{
	int fd;

	strcpy(path, "/tmp/sotto-pass-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, content, n) != (ssize_t)n || fchmod(fd, mode) != 0)
		abort();
	close(fd);
}

TEST(passphrase_file_first_line)
{
	struct passphrase pp = { NULL, 0 };
	unsigned warn = 0;

	write_file("open sesame\r\nsecond line\n", 26, 0600);
	CHECK_EQ_INT(passphrase_from_file(path, &pp, &warn), 0);
	CHECK(pp.len == 11 && memcmp(pp.p, "open sesame", 11) == 0 && pp.p[11] == 0);
	CHECK_EQ_INT(warn, 0);
	passphrase_free(&pp);
	CHECK(pp.p == NULL && pp.len == 0);
	unlink(path);

	write_file("no newline", 10, 0600);
	CHECK_EQ_INT(passphrase_from_file(path, &pp, &warn), 0);
	CHECK(pp.len == 10 && memcmp(pp.p, "no newline", 10) == 0);
	passphrase_free(&pp);
	unlink(path);
}

TEST(passphrase_file_readable_by_others_warns)
{
	struct passphrase pp = { NULL, 0 };
	unsigned warn = 0;
	char buf[256] = { 0 };
	FILE *mem = fmemopen(buf, sizeof(buf) - 1, "w");

	write_file("x\n", 2, 0644);
	CHECK_EQ_INT(passphrase_from_file(path, &pp, &warn), 0);
	CHECK_EQ_INT(warn, PASSPHRASE_WARN_FILE_READABLE);
	passphrase_free(&pp);
	warn = 0;
	REQUIRE(mem != NULL);
	CHECK_EQ_INT(passphrase_get(path, "p: ", 0, mem, &pp, &warn), 0);
	fclose(mem);
	CHECK_EQ_INT(warn, PASSPHRASE_WARN_FILE_READABLE);
	CHECK(strstr(buf, "readable by other users") != NULL);
	passphrase_free(&pp);
	chmod(path, 0640);
	warn = 0;
	CHECK_EQ_INT(passphrase_from_file(path, &pp, &warn), 0);
	CHECK_EQ_INT(warn, PASSPHRASE_WARN_FILE_READABLE);
	passphrase_free(&pp);
	unlink(path);
}

TEST(passphrase_file_bad_input)
{
	struct passphrase pp = { NULL, 0 };
	char *big = malloc(PASSPHRASE_MAX + 10);

	REQUIRE(big != NULL);
	write_file("\nsecond\n", 8, 0600);
	CHECK_EQ_INT(passphrase_from_file(path, &pp, NULL), SOTTO_ERR_INVALID_ARG);
	CHECK(pp.p == NULL);
	unlink(path);
	memset(big, 'a', PASSPHRASE_MAX + 10);
	write_file(big, PASSPHRASE_MAX + 1, 0600);
	CHECK_EQ_INT(passphrase_from_file(path, &pp, NULL), SOTTO_ERR_TOO_LARGE);
	unlink(path);
	big[PASSPHRASE_MAX] = '\n';
	write_file(big, PASSPHRASE_MAX + 10, 0600);
	CHECK_EQ_INT(passphrase_from_file(path, &pp, NULL), 0);
	CHECK_EQ_INT(pp.len, PASSPHRASE_MAX);
	passphrase_free(&pp);
	unlink(path);
	CHECK_EQ_INT(passphrase_from_file("/nonexistent/sotto/pass", &pp, NULL),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(passphrase_from_file("/tmp", &pp, NULL), SOTTO_ERR_IO);
	free(big);
}

TEST(passphrase_env_is_wiped)
{
	struct passphrase pp = { NULL, 0 };
	char *v;

	unsetenv(PASSPHRASE_ENV);
	CHECK_EQ_INT(passphrase_from_env(&pp), SOTTO_ERR_NOT_FOUND);
	REQUIRE(setenv(PASSPHRASE_ENV, "from the env", 1) == 0);
	v = getenv(PASSPHRASE_ENV);
	REQUIRE(v != NULL);
	CHECK_EQ_INT(passphrase_from_env(&pp), 0);
	CHECK(pp.len == 12 && memcmp(pp.p, "from the env", 12) == 0);
	CHECK(getenv(PASSPHRASE_ENV) == NULL);
	/* glibc keeps setenv's string allocated after unsetenv: it must be zeros now. */
	CHECK(sodium_is_zero((const unsigned char *)v, 12));
	passphrase_free(&pp);
	REQUIRE(setenv(PASSPHRASE_ENV, "", 1) == 0);
	CHECK_EQ_INT(passphrase_from_env(&pp), SOTTO_ERR_INVALID_ARG);
}

TEST(passphrase_get_prefers_file_over_env)
{
	struct passphrase pp = { NULL, 0 };
	unsigned warn = 1;

	write_file("file pass\n", 10, 0600);
	REQUIRE(setenv(PASSPHRASE_ENV, "env pass", 1) == 0);
	CHECK_EQ_INT(passphrase_get(path, "p: ", 0, NULL, &pp, &warn), 0);
	CHECK(pp.len == 9 && memcmp(pp.p, "file pass", 9) == 0);
	CHECK_EQ_INT(warn, 0);
	passphrase_free(&pp);
	unlink(path);
	CHECK_EQ_INT(passphrase_get(NULL, "p: ", 0, NULL, &pp, &warn), 0);
	CHECK(pp.len == 8 && memcmp(pp.p, "env pass", 8) == 0);
	passphrase_free(&pp);
}

/* Reads from the pty master until `want` has appeared (or 2 s pass); returns what came. */
static size_t
read_until(int fd, char *buf, size_t cap, size_t have, const char *want)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t got;

	while (have < cap - 1) {
		buf[have] = '\0';
		if (want != NULL && strstr(buf, want) != NULL)
			break;
		if (poll(&p, 1, 2000) <= 0)
			break;
		if ((got = read(fd, buf + have, cap - 1 - have)) <= 0)
			break;
		have += (size_t)got;
	}
	buf[have] = '\0';
	return have;
}

/* The child becomes a session leader whose controlling terminal is the pty, asks for the
 * passphrase, and reports on a pipe: result code, echo flag afterwards, the passphrase. */
static void
tty_child(const char *slave, int confirm, int out)
{
	struct passphrase pp = { NULL, 0 };
	struct termios t;
	int fd, r, echo;
	char msg[128];

	setsid();
	if ((fd = open(slave, O_RDWR)) < 0)
		_exit(2);
	r = passphrase_from_tty("Passphrase: ", confirm, &pp);
	echo = tcgetattr(fd, &t) == 0 && (t.c_lflag & ECHO) != 0;
	snprintf(msg, sizeof(msg), "%d %d %s", r, echo, r == 0 ? (char *)pp.p : "-");
	passphrase_free(&pp);
	if (write(out, msg, strlen(msg) + 1) < 0)
		_exit(3);
	_exit(0);
}

static int
run_tty(int confirm, const char *input1, const char *input2, char *report, size_t cap,
    char *screen, size_t screen_cap)
{
	int master, pipefd[2], status = 0;
	size_t have = 0;
	ssize_t got;
	pid_t pid;

	if ((master = posix_openpt(O_RDWR | O_NOCTTY)) < 0 || grantpt(master) != 0 ||
	    unlockpt(master) != 0 || pipe(pipefd) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		close(pipefd[0]);
		tty_child(ptsname(master), confirm, pipefd[1]);
	}
	close(pipefd[1]);
	have = read_until(master, screen, screen_cap, 0, "Passphrase: ");
	if (write(master, input1, strlen(input1)) < 0)
		return -1;
	if (input2 != NULL) {
		have = read_until(master, screen, screen_cap, have, "Again: ");
		if (write(master, input2, strlen(input2)) < 0)
			return -1;
	}
	got = read(pipefd[0], report, cap - 1);
	report[got > 0 ? got : 0] = '\0';
	(void)read_until(master, screen, screen_cap, have, NULL);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	close(master);
	return 0;
}

TEST(passphrase_tty_echo_off)
{
	char report[256], screen[1024];

	REQUIRE(run_tty(0, "tty s3cret\n", NULL, report, sizeof(report), screen,
	    sizeof(screen)) == 0);
	CHECK(strcmp(report, "0 1 tty s3cret") == 0);
	CHECK(strstr(screen, "Passphrase: ") != NULL);
	/* Typed with echo off: nothing of it came back on the terminal. */
	CHECK(strstr(screen, "s3cret") == NULL);
}

TEST(passphrase_tty_confirm)
{
	char report[256], screen[1024];

	REQUIRE(run_tty(1, "same\n", "same\n", report, sizeof(report), screen,
	    sizeof(screen)) == 0);
	CHECK(strcmp(report, "0 1 same") == 0);
	REQUIRE(run_tty(1, "one\n", "other\n", report, sizeof(report), screen,
	    sizeof(screen)) == 0);
	{
		char want[32];

		snprintf(want, sizeof(want), "%d 1 -", SOTTO_ERR_PASSPHRASE);
		CHECK(strcmp(report, want) == 0);
	}
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(passphrase_file_first_line);
	RUN(passphrase_file_readable_by_others_warns);
	RUN(passphrase_file_bad_input);
	RUN(passphrase_env_is_wiped);
	RUN(passphrase_get_prefers_file_over_env);
	RUN(passphrase_tty_echo_off);
	RUN(passphrase_tty_confirm);
	return check_summary();
}
