#include "cli/passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

void
passphrase_free(struct passphrase *pp)
{
	if (pp->p != NULL)
		sodium_free(pp->p);     /* wipes */
	pp->p = NULL;
	pp->len = 0;
}

static int
pp_alloc(struct passphrase *out)
{
	out->len = 0;
	if (sodium_init() < 0)
		return SOTTO_ERR_CRYPTO;
	/* One spare byte to notice an over-long line, one for the NUL. */
	if ((out->p = sodium_malloc(PASSPHRASE_MAX + 2)) == NULL)
		return SOTTO_ERR_NOMEM;
	sodium_memzero(out->p, PASSPHRASE_MAX + 2);
	return 0;
}

/* Cuts at the first line end; rejects empty or over-long results. */
static int
pp_finish(struct passphrase *out, size_t n)
{
	uint8_t *nl = memchr(out->p, '\n', n);

	if (nl != NULL)
		n = (size_t)(nl - out->p);
	else if (n > PASSPHRASE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (n > 0 && out->p[n - 1] == '\r')
		n--;
	sodium_memzero(out->p + n, PASSPHRASE_MAX + 2 - n);
	out->len = n;
	return n == 0 ? SOTTO_ERR_INVALID_ARG : 0;
}

int
passphrase_from_file(const char *path, struct passphrase *out, unsigned *warn)
{
	struct stat sb;
	size_t n = 0;
	ssize_t got;
	int fd, r;

	out->p = NULL;
	out->len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_IO;
	if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
		close(fd);
		return SOTTO_ERR_IO;
	}
	if (warn != NULL && S_ISREG(sb.st_mode) && (sb.st_mode & (S_IRGRP | S_IROTH)) != 0)
		*warn |= PASSPHRASE_WARN_FILE_READABLE;
	if ((r = pp_alloc(out)) != 0) {
		close(fd);
		return r;
	}
	/* Read until a line end or one byte past the cap; a pipe may deliver in pieces. */
	while (n < PASSPHRASE_MAX + 1 && memchr(out->p, '\n', n) == NULL) {
		got = read(fd, out->p + n, PASSPHRASE_MAX + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = SOTTO_ERR_IO;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (r == 0)
		r = pp_finish(out, n);
	if (r != 0)
		passphrase_free(out);
	return r;
}

int
passphrase_from_env(struct passphrase *out)
{
	char *v = getenv(PASSPHRASE_ENV);
	size_t n;
	int r;

	out->p = NULL;
	out->len = 0;
	if (v == NULL)
		return SOTTO_ERR_NOT_FOUND;
	n = strlen(v);
	if (n > PASSPHRASE_MAX)
		r = SOTTO_ERR_TOO_LARGE;
	else if ((r = pp_alloc(out)) == 0) {
		memcpy(out->p, v, n);
		out->len = n;
		r = n == 0 ? SOTTO_ERR_INVALID_ARG : 0;
	}
	/* The environment block is readable through /proc/PID/environ: wipe it in place. */
	sodium_memzero(v, n);
	unsetenv(PASSPHRASE_ENV);
	if (r != 0)
		passphrase_free(out);
	return r;
}

static volatile sig_atomic_t tty_signal;

static void
tty_on_signal(int sig)
{
	tty_signal = sig;
}

static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define N_TTY_SIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

/* One line from the terminal into out, echo off. */
static int
tty_read_line(int fd, const char *prompt, struct passphrase *out)
{
	struct sigaction sa, saved[N_TTY_SIGNALS];
	struct termios old, quiet;
	int r = 0, restore = 0, sig;
	size_t n = 0, i;
	uint8_t ch;
	ssize_t got;

	tty_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal;      /* no SA_RESTART: read returns EINTR */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &sa, &saved[i]);
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = 1;
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		r = SOTTO_ERR_IO;
	while (r == 0 && tty_signal == 0) {
		got = read(fd, &ch, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = SOTTO_ERR_IO;
			break;
		}
		if (got == 0 || ch == '\n' || ch == '\r')
			break;
		if (n < PASSPHRASE_MAX + 1)
			out->p[n++] = ch;
	}
	ch = 0;
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	for (i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &saved[i], NULL);
	if ((sig = tty_signal) != 0) {
		/* The terminal is restored; now let the signal do what it would have done. */
		sodium_memzero(out->p, PASSPHRASE_MAX + 2);
		raise(sig);
		return SOTTO_ERR_IO;
	}
	if (r != 0) {
		sodium_memzero(out->p, PASSPHRASE_MAX + 2);
		return r;
	}
	return pp_finish(out, n);
}

int
passphrase_from_tty(const char *prompt, int confirm, struct passphrase *out)
{
	struct passphrase again = { NULL, 0 };
	int fd, r;

	out->p = NULL;
	out->len = 0;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return SOTTO_ERR_IO;
	if ((r = pp_alloc(out)) != 0)
		goto out;
	if ((r = tty_read_line(fd, prompt, out)) != 0 || !confirm)
		goto out;
	if ((r = pp_alloc(&again)) != 0 ||
	    (r = tty_read_line(fd, "Again: ", &again)) != 0)
		goto out;
	if (again.len != out->len || sodium_memcmp(again.p, out->p, out->len) != 0)
		r = SOTTO_ERR_PASSPHRASE;
out:
	close(fd);
	passphrase_free(&again);
	if (r != 0)
		passphrase_free(out);
	return r;
}

int
passphrase_get(const char *file, const char *prompt, int confirm, FILE *warn_to,
    struct passphrase *out, unsigned *warn)
{
	unsigned w = 0;
	int r;

	if (file != NULL) {
		r = passphrase_from_file(file, out, &w);
		if (warn_to != NULL && (w & PASSPHRASE_WARN_FILE_READABLE) != 0)
			fprintf(warn_to, "sotto: warning: %s is readable by other users\n", file);
	} else if ((r = passphrase_from_env(out)) == SOTTO_ERR_NOT_FOUND)
		r = passphrase_from_tty(prompt, confirm, out);
	if (warn != NULL)
		*warn = w;
	return r;
}
