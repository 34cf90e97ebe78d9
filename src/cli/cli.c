/* Shared helpers of the subcommands: exit codes, errors, opening the account. */
#include "cli/cli.h"

#include <getopt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/passphrase.h"

_Static_assert(SOTTO_TEXT_MAX == 61440, "CLI_TEXT_MAX_TEXT names SOTTO_TEXT_MAX");

int
cli_exit_code(int err)
{
	switch (err) {
	case SOTTO_OK:
		return CLI_OK;
	case SOTTO_ERR_PASSPHRASE:
		return CLI_EXIT_PASSPHRASE;
	case SOTTO_ERR_STATE:
	case SOTTO_ERR_NO_ACCOUNT:
	case SOTTO_ERR_ACCOUNT_GONE:
		return CLI_EXIT_NO_ACCOUNT;
	case SOTTO_ERR_EXISTS:
		return CLI_EXIT_EXISTS;
	case SOTTO_ERR_IO:
	case SOTTO_ERR_TIMEOUT:
	case SOTTO_ERR_CLOSED:
	case SOTTO_ERR_DECRYPT:
	case SOTTO_ERR_UNREACHABLE:
	case SOTTO_ERR_NOT_SOTTO:
		return CLI_EXIT_NETWORK;
	case SOTTO_ERR_INVITE_UNKNOWN:
	case SOTTO_ERR_INVITE_USED:
	case SOTTO_ERR_INVITE_EXPIRED:
	case SOTTO_ERR_AUTH:
	case SOTTO_ERR_LIMIT:
	case SOTTO_ERR_QUOTA:
	case SOTTO_ERR_MAILBOX_FULL:
	case SOTTO_ERR_SERVER_FULL:
	case SOTTO_ERR_PROTOCOL:
	case SOTTO_ERR_BAD_SIGNATURE:
	case SOTTO_ERR_EXPIRED:
	case SOTTO_ERR_UNSUPPORTED:
	case SOTTO_ERR_DEVICE_CLONED:
	case SOTTO_ERR_STALE_EPOCH:
	case SOTTO_ERR_NO_GROUP_TOKEN:
	case SOTTO_ERR_GROUP_FULL:
	case SOTTO_ERR_TOO_MANY_GROUPS:
		return CLI_EXIT_REFUSED;
	case SOTTO_ERR_UNTRUSTED_IDENTITY:
	case SOTTO_ERR_IDENTITY_CHANGED:
		return CLI_EXIT_UNTRUSTED;
	case SOTTO_ERR_NOT_FOUND:
	case SOTTO_ERR_NO_SESSION:
	case SOTTO_ERR_UNKNOWN_USER:
	case SOTTO_ERR_OTHER_DOMAIN:
	case SOTTO_ERR_NOT_MEMBER:
	case SOTTO_ERR_UNKNOWN_GROUP:
		return CLI_EXIT_NOT_FOUND;
	case SOTTO_ERR_BAD_ADDRESS:
	case SOTTO_ERR_MESSAGE_TOO_LARGE:
	case SOTTO_ERR_SAFETY_MISMATCH:
	case SOTTO_ERR_MALFORMED:
	case SOTTO_ERR_INVALID_ARG:
	case SOTTO_ERR_TOO_LARGE:
	case SOTTO_ERR_BAD_KEY:
	case SOTTO_ERR_BLOB_HASH:
	case SOTTO_ERR_FILE_DIGEST:
	case SOTTO_ERR_TRUNCATED:
	case SOTTO_ERR_TRAILING:
		return CLI_EXIT_INVALID;
	case SOTTO_ERR_CORRUPT:
	case SOTTO_ERR_STORAGE:
	case SOTTO_ERR_BAD_VERSION:
		return CLI_EXIT_STORE;
	case SOTTO_ERR_QUEUED:
		return CLI_EXIT_QUEUED;
	default:
		return CLI_EXIT_INTERNAL;
	}
}

/* What the user can do about err, or NULL. */
static const char *
err_advice(int err)
{
	switch (err) {
	case SOTTO_ERR_UNKNOWN_USER:
		return "check the spelling of the address";
	case SOTTO_ERR_OTHER_DOMAIN:
		return "a Sotto server delivers only to addresses of its own domain";
	case SOTTO_ERR_INVITE_UNKNOWN:
		return "check the token, or ask the server's operator for a new one";
	case SOTTO_ERR_INVITE_USED:
		return "the invite registered as many accounts as it was made for: ask the"
		    " server's operator for a new one";
	case SOTTO_ERR_INVITE_EXPIRED:
		return "ask the server's operator for a new one";
	case SOTTO_ERR_NOT_SOTTO:
		return "check the port: `sottod address` on the server prints the right address";
	case SOTTO_ERR_MESSAGE_TOO_LARGE:
		return "a message holds at most " CLI_TEXT_MAX_TEXT "; send longer text as a"
		    " mail through `sotto bridge`, which splits it";
	case SOTTO_ERR_UNREACHABLE:
		return "check that sottod runs there and that the host and port are right;"
		    " try again later";
	case SOTTO_ERR_BAD_ADDRESS:
		return "an address is name@domain; the name is made of a-z, 0-9, '.', '_', '-'";
	case SOTTO_ERR_DEVICE_CLONED:
		return "this store was copied to another machine or restored from a backup, and"
		    " the other copy has logged in since: keep using that one (a store must never"
		    " be copied). If it is lost, ask the server's operator to reset the account"
		    " (`sottod accounts reset NAME`) and run `sotto init` with the new invite in"
		    " a new home directory";
	case SOTTO_ERR_ACCOUNT_GONE:
		return "to use the name again, ask the server's operator for an invite (`sottod"
		    " accounts reset NAME`) and run `sotto init` with it in a new home directory";
	default:
		return NULL;
	}
}

void
cli_report(struct cli *cli, const char *what, int err)
{
	const char *advice = err_advice(err);

	cli_printf(stderr, "%s: %s: %s%s%s\n", cli->prog, what, sotto_strerror(err),
	    advice != NULL ? "; " : "", advice != NULL ? advice : "");
}

int
cli_fail(struct cli *cli, const char *what, int err)
{
	cli_report(cli, what, err);
	return cli_exit_code(err);
}

/* Appends s to out (cap bytes), in single quotes unless it needs none. */
static void
shell_quote(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out), i;
	int plain = *s != '\0';

	for (i = 0; s[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		    "/._-+=:,@%", s[i]) == NULL)
			plain = 0;
	if (plain) {
		snprintf(out + n, cap - n, "%s", s);
		return;
	}
	if (n + 1 < cap)
		out[n++] = '\'';
	for (i = 0; s[i] != '\0' && n + 5 < cap; i++) {
		if (s[i] == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = s[i];
		}
	}
	if (n + 1 < cap)
		out[n++] = '\'';
	out[n < cap ? n : cap - 1] = '\0';
}

const char *
cli_self(struct cli *cli)
{
	size_t n;

	snprintf(cli->self, sizeof(cli->self), "%s", cli->prog);
	if (cli->home != NULL) {
		n = strlen(cli->self);
		snprintf(cli->self + n, sizeof(cli->self) - n, " --home ");
		shell_quote(cli->self, sizeof(cli->self), cli->home);
	}
	if (cli->passfile != NULL) {
		n = strlen(cli->self);
		snprintf(cli->self + n, sizeof(cli->self) - n, " --passphrase-file ");
		shell_quote(cli->self, sizeof(cli->self), cli->passfile);
	}
	return cli->self;
}

int
cli_usage(struct cli *cli, const struct cli_cmd *cmd, const char *why)
{
	if (why != NULL)
		fprintf(stderr, "%s %s: %s\n", cli->prog, cmd->name, why);
	fprintf(stderr, "usage: %s [--home DIR] [--passphrase-file FILE] %s %s\n", cli->prog,
	    cmd->name, cmd->usage);
	return CLI_EXIT_USAGE;
}

int
cli_help(const struct cli_cmd *cmd)
{
	printf("usage: sotto [--home DIR] [--passphrase-file FILE] %s %s\n\n%s\n", cmd->name,
	    cmd->usage, cmd->summary);
	return CLI_OK;
}

const struct cli_cmd *
cli_find(const char *name)
{
	const struct cli_cmd *c;

	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int
cli_home(struct cli *cli, char *out, size_t cap)
{
	const char *h = cli->home;

	if (h == NULL && (h = getenv(CLI_HOME_ENV)) != NULL && *h == '\0')
		h = NULL;
	if (h != NULL) {
		if (strlen(h) >= cap)
			return SOTTO_ERR_TOO_LARGE;
		memcpy(out, h, strlen(h) + 1);
		return 0;
	}
	return sotto_default_home(out, cap);
}

int
cli_open(struct cli *cli, struct sotto **out)
{
	return cli_open_keep(cli, out, NULL);
}

int
cli_open_keep(struct cli *cli, struct sotto **out, struct passphrase *keep)
{
	struct passphrase pp = { 0 };
	char home[4096];
	unsigned warn = 0;
	int r;

	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return cli_fail(cli, "home directory", r);
	/* No prompt for a passphrase that could open nothing. */
	if ((r = cli_have_account(cli)) != CLI_OK)
		return r;
	if ((r = passphrase_get(cli->passfile, "Passphrase: ", 0, stderr, &pp, &warn)) != 0) {
		fprintf(stderr, "%s: cannot read the passphrase: %s\n", cli->prog, sotto_strerror(r));
		return CLI_EXIT_PASSPHRASE;
	}
	r = sotto_open(out, home, pp.p, pp.len);
	if (r == 0 && keep != NULL && sotto_registered(*out))
		*keep = pp;     /* handed over: the caller frees it */
	else
		passphrase_free(&pp);
	if (r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_PASSPHRASE)
		return cli_account_error(cli, home, r);
	if (r != 0)
		return cli_fail(cli, "cannot open the store", r);
	if (!sotto_registered(*out)) {
		sotto_close(*out);
		*out = NULL;
		return cli_account_error(cli, home, SOTTO_ERR_STATE);
	}
	return CLI_OK;
}

int
cli_have_account(struct cli *cli)
{
	char home[4096];
	int r;

	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return cli_fail(cli, "home directory", r);
	if (!sotto_store_exists(home))
		return cli_account_error(cli, home, SOTTO_ERR_NOT_FOUND);
	return CLI_OK;
}

int
cli_account_error(struct cli *cli, const char *home, int r)
{
	if (r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_NO_ACCOUNT) {
		cli_printf(stderr, "%s: no account here (%s): run `%s init ADDRESS --server "
		    "SERVER_ADDRESS` first\n", cli->prog, home, cli_self(cli));
		return CLI_EXIT_NO_ACCOUNT;
	}
	if (r == SOTTO_ERR_PASSPHRASE) {
		cli_printf(stderr, "%s: wrong passphrase for %s\n", cli->prog, home);
		return CLI_EXIT_PASSPHRASE;
	}
	if (r == SOTTO_ERR_STATE) {
		cli_printf(stderr, "%s: the account in %s is not registered: run `%s init ADDRESS "
		    "--server SERVER_ADDRESS` again\n", cli->prog, home, cli_self(cli));
		return CLI_EXIT_NO_ACCOUNT;
	}
	return CLI_OK;
}

int
cli_daemon_lock(struct cli *cli, int *lock_fd)
{
	char home[4096], path[4200];
	int fd, r;

	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return cli_fail(cli, "home directory", r);
	snprintf(path, sizeof(path), "%s/%s", home, CLI_DAEMON_LOCK);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		if (errno == ENOENT)
			return CLI_OK;  /* no home yet: cli_open reports it */
		cli_printf(stderr, "%s: %s: %s\n", cli->prog, path, strerror(errno));
		return CLI_EXIT_STORE;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		cli_printf(stderr, "%s: a sotto daemon is serving %s: use its socket, or stop it\n",
		    cli->prog, home);
		return CLI_EXIT_DAEMON;
	}
	if (lock_fd != NULL)
		*lock_fd = fd;
	else
		close(fd);
	return CLI_OK;
}

void
cli_report_connect(struct cli *cli, const char *server, int err)
{
	char what[600];

	/* Those two say "cannot reach" or "wrong port" themselves. */
	snprintf(what, sizeof(what), "%s%s", err == SOTTO_ERR_UNREACHABLE ||
	    err == SOTTO_ERR_NOT_SOTTO ? "" : cli_exit_code(err) == CLI_EXIT_NETWORK ?
	    "cannot reach " : "login to ", server);
	cli_report(cli, what, err);
}

int
cli_open_connected(struct cli *cli, struct sotto **out)
{
	int r;

	if ((r = cli_daemon_lock(cli, NULL)) != CLI_OK)
		return r;
	if ((r = cli_open(cli, out)) != CLI_OK)
		return r;
	if ((r = sotto_connect(*out, 10000)) != 0) {
		cli_report_connect(cli, sotto_server(*out), r);
		sotto_close(*out);
		*out = NULL;
		return cli_exit_code(r);
	}
	return CLI_OK;
}

long
cli_parse_duration(const char *s)
{
	char *end = NULL;
	long v, mul = 1;

	if (strcmp(s, "off") == 0)
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (end == s || v < 0 || v > (long)SOTTO_EXPIRY_MAX)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
	}
	if (v > (long)SOTTO_EXPIRY_MAX / mul)
		return -1;
	return v * mul;
}

int
cli_contact_command(struct cli *cli, const char *name, int argc, char **argv,
    int (*fn)(struct sotto *, const char *), int *err)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find(name);
	struct sotto *s = NULL;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(cmd);
		return cli_usage(cli, cmd, NULL);
	}
	if (optind + 1 != argc)
		return cli_usage(cli, cmd, "one ADDRESS");
	if ((r = cli_open(cli, &s)) != CLI_OK)
		return r;
	*err = fn(s, argv[optind]);
	sotto_close(s);
	if (*err == SOTTO_ERR_NOT_FOUND) {
		cli_printf(stderr, "%s: %s is not a contact\n", cli->prog, argv[optind]);
		return CLI_EXIT_NOT_FOUND;
	}
	return -1;
}
