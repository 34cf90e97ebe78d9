/* sotto bridge [--smtp HOST:PORT] [--imap HOST:PORT] [--show-password] */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "bridge/bridge.h"
#include "bridge/listener.h"
#include "bridge/mailstore_store.h"
#include "bridge/smtp.h"
#include "cli/cli.h"
#include "client/passphrase.h"

int cmd_bridge(struct cli *cli, int argc, char **argv);

#define HOST_MAX 64

struct run {
	struct bridge *b;
	uv_signal_t sigint, sigterm;
	int stopping;
};

static void
on_closed(uv_handle_t *h)
{
	(void)h;
}

static void
on_stopped(void *arg)
{
	struct run *run = arg;

	uv_close((uv_handle_t *)&run->sigint, on_closed);
	uv_close((uv_handle_t *)&run->sigterm, on_closed);
}

static void
on_signal(uv_signal_t *h, int sig)
{
	struct run *run = h->data;

	(void)sig;
	if (run->stopping)
		return;
	run->stopping = 1;
	fprintf(stderr, "sotto bridge: stopping\n");
	bridge_stop(run->b, on_stopped, run);
}

/* Opens the store for the mail folders and the account for the client thread, both
 * under the one passphrase. Returns an exit code. */
static int
open_both(struct cli *cli, struct store **st, struct sotto **s)
{
	struct passphrase pp = { 0 };
	char home[4096];
	unsigned warn = 0;
	int r;

	*st = NULL;
	*s = NULL;
	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return cli_fail(cli, "home directory", r);
	if ((r = passphrase_get(cli->passfile, "Passphrase: ", 0, stderr, &pp, &warn)) != 0) {
		fprintf(stderr, "%s: cannot read the passphrase: %s\n", cli->prog,
		    sotto_strerror(r));
		return CLI_EXIT_PASSPHRASE;
	}
	r = store_open(home, pp.p, pp.len, st);
	if (r == 0 && (r = sotto_open(s, home, pp.p, pp.len)) != 0) {
		store_close(*st);
		*st = NULL;
	}
	passphrase_free(&pp);
	if (r == SOTTO_ERR_NOT_FOUND) {
		fprintf(stderr, "%s: no account in %s: run `sotto init` first\n", cli->prog, home);
		return CLI_EXIT_NO_ACCOUNT;
	}
	if (r == SOTTO_ERR_PASSPHRASE) {
		fprintf(stderr, "%s: wrong passphrase for %s\n", cli->prog, home);
		return CLI_EXIT_PASSPHRASE;
	}
	if (r != 0)
		return cli_fail(cli, "cannot open the store", r);
	if (!sotto_registered(*s)) {
		fprintf(stderr, "%s: the account in %s is not registered: run `sotto init`\n",
		    cli->prog, home);
		sotto_close(*s);
		store_close(*st);
		*s = NULL;
		*st = NULL;
		return CLI_EXIT_NO_ACCOUNT;
	}
	return CLI_OK;
}

static int
run_bridge(struct cli *cli, struct sotto *s, struct mailstore *ms, const char *hash,
    const char *smtp_host, uint16_t smtp_port, const char *imap_host, uint16_t imap_port)
{
	struct bridge_config cfg;
	struct run run;
	uv_loop_t loop;
	char why[256];
	int r;

	memset(&cfg, 0, sizeof(cfg));
	memset(&run, 0, sizeof(run));
	cfg.sotto = s;
	cfg.ms = ms;
	cfg.pw_hash = hash;
	cfg.smtp_host = smtp_host;
	cfg.smtp_port = smtp_port;
	cfg.imap_host = imap_host;
	cfg.imap_port = imap_port;
	if (uv_loop_init(&loop) != 0) {
		sotto_close(s);
		return cli_fail(cli, "event loop", SOTTO_ERR_INTERNAL);
	}
	if ((r = bridge_start(&run.b, &loop, &cfg, why, sizeof(why))) != 0) {
		fprintf(stderr, "%s: bridge: %s\n", cli->prog, why);
		sotto_close(s);
		uv_run(&loop, UV_RUN_DEFAULT);  /* let the half-started servers close */
		(void)uv_loop_close(&loop);
		return r == SOTTO_ERR_AUTH || r == SOTTO_ERR_INVALID_ARG ? CLI_EXIT_INVALID :
		    cli_exit_code(r);
	}
	uv_signal_init(&loop, &run.sigint);
	uv_signal_init(&loop, &run.sigterm);
	run.sigint.data = run.sigterm.data = &run;
	uv_signal_start(&run.sigint, on_signal, SIGINT);
	uv_signal_start(&run.sigterm, on_signal, SIGTERM);
	printf("sotto bridge: SMTP on %s:%u, IMAP on %s:%u; user name %s\n", smtp_host,
	    (unsigned)bridge_smtp_port(run.b), imap_host, (unsigned)bridge_imap_port(run.b),
	    sotto_address(s));
	fflush(stdout);
	uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	return CLI_OK;
}

int
cmd_bridge(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smtp", required_argument, NULL, 's' },
		{ "imap", required_argument, NULL, 'i' },
		{ "show-password", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("bridge");
	const char *smtp = SMTP_DEFAULT_LISTEN, *imap = BRIDGE_IMAP_DEFAULT_LISTEN;
	char smtp_host[HOST_MAX], imap_host[HOST_MAX];
	char pw[BRIDGE_PASSWORD_CHARS + 1], hash[BRIDGE_AUTH_HASH_BYTES];
	uint16_t smtp_port, imap_port;
	struct mailstore ms = { NULL, NULL };
	struct store *st = NULL;
	struct sotto *s = NULL;
	int ch, r, show = 0, created = 0;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': smtp = optarg; break;
		case 'i': imap = optarg; break;
		case 'p': show = 1; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cli, cmd, "no arguments after the options");
	if (listener_parse_addr(smtp, smtp_host, sizeof(smtp_host), &smtp_port) != 0)
		return cli_usage(cli, cmd, "--smtp takes HOST:PORT");
	if (listener_parse_addr(imap, imap_host, sizeof(imap_host), &imap_port) != 0)
		return cli_usage(cli, cmd, "--imap takes HOST:PORT");
	if ((r = open_both(cli, &st, &s)) != CLI_OK)
		return r;
	if ((r = bridge_password(st, pw, hash, &created)) != 0) {
		sotto_close(s);
		store_close(st);
		return cli_fail(cli, "bridge password", r);
	}
	if (show) {
		printf("%s\n", pw);
		fprintf(stderr, "user name: %s\n", sotto_address(s));
		sodium_memzero(pw, sizeof(pw));
		sotto_close(s);
		store_close(st);
		return CLI_OK;
	}
	sodium_memzero(pw, sizeof(pw));
	if (created)
		fprintf(stderr, "sotto bridge: made a bridge password; "
		    "`sotto bridge --show-password` shows it\n");
	if ((r = mailstore_store_open(&ms, st, 1)) != 0) {
		sotto_close(s);
		store_close(st);
		return cli_fail(cli, "mail folders", r);
	}
	r = run_bridge(cli, s, &ms, hash, smtp_host, smtp_port, imap_host, imap_port);
	mailstore_destroy(&ms);
	return r;
}
