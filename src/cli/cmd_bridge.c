/* sotto bridge [--smtp HOST:PORT] [--imap HOST:PORT] [--show-password] */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bridge/bridge.h"
#include "bridge/listener.h"
#include "smtp/smtp.h"
#include "cli/cli.h"
#include "base/confine.h"
#include "cli/passphrase.h"

int cmd_bridge(struct cli *cli, int argc, char **argv);

/* Prints why an account could not be opened; returns the exit code. */
static int
open_failed(struct cli *cli, const char *home, int r, const char *why)
{
	int code = cli_account_error(cli, home, r);

	if (code != CLI_OK)
		return code;
	fprintf(stderr, "%s: bridge: %s\n", cli->prog, why != NULL && why[0] ? why :
	    sotto_strerror(r));
	return r == SOTTO_ERR_AUTH || r == SOTTO_ERR_INVALID_ARG ? CLI_EXIT_INVALID :
	    cli_exit_code(r);
}

/* --show-password: made now if there is none yet. */
static int
show_password(struct cli *cli, const char *home, const struct passphrase *pp)
{
	char pw[SOTTO_BRIDGE_PASSWORD_CHARS + 1], hash[SOTTO_BRIDGE_HASH_MAX];
	struct sotto *s = NULL;
	int r, created = 0;

	if ((r = sotto_open(&s, home, pp->p, pp->len)) != 0)
		return open_failed(cli, home, r, NULL);
	if (!sotto_registered(s)) {
		sotto_close(s);
		return open_failed(cli, home, SOTTO_ERR_STATE, NULL);
	}
	if ((r = sotto_bridge_password(s, pw, hash, &created)) != 0) {
		sotto_close(s);
		return cli_fail(cli, "bridge password", r);
	}
	printf("%s\n", pw);
	fprintf(stderr, "user name: %s\n", sotto_address(s));
	if (created)    /* `sotto init` makes it; a store from before that has none yet */
		fprintf(stderr, "(the password was made now)\n");
	sodium_memzero(pw, sizeof(pw));
	sotto_close(s);
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
	struct bridge_run_config cfg;
	struct bridge_runner *run = NULL;
	struct passphrase pp = { 0 };
	char host[64], home[4096], why[256];
	uint16_t port;
	unsigned warn = 0;
	sigset_t sigs;
	int ch, r, sig, show = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.smtp = SMTP_DEFAULT_LISTEN;
	cfg.imap = BRIDGE_IMAP_DEFAULT_LISTEN;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': cfg.smtp = optarg; break;
		case 'i': cfg.imap = optarg; break;
		case 'p': show = 1; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cli, cmd, "no arguments after the options");
	if (listener_parse_addr(cfg.smtp, host, sizeof(host), &port) != 0)
		return cli_usage(cli, cmd, "--smtp takes HOST:PORT");
	if (listener_parse_addr(cfg.imap, host, sizeof(host), &port) != 0)
		return cli_usage(cli, cmd, "--imap takes HOST:PORT");
	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return cli_fail(cli, "home directory", r);
	if ((r = cli_have_account(cli)) != CLI_OK)
		return r;
	if ((r = passphrase_get(cli->passfile, "Passphrase: ", 0, stderr, &pp, &warn)) != 0) {
		fprintf(stderr, "%s: cannot read the passphrase: %s\n", cli->prog,
		    sotto_strerror(r));
		return CLI_EXIT_PASSPHRASE;
	}
	if (show) {
		r = show_password(cli, home, &pp);
		passphrase_free(&pp);
		return r;
	}
	/* signals wait for sigwait below, not for whichever thread libuv happens to run */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	cfg.home = home;
	cfg.pass = pp.p;
	cfg.pass_len = pp.len;
	{
		struct confine_opts co = CONFINE_OPTS_INIT;

		co.data_dir = home;
		if (confine_disabled_by_env())
			fprintf(stderr, "sotto bridge: NOT confined: SOTTO_SANDBOX=off (for valgrind "
			    "and debuggers only)\n");
		else if ((r = confine_apply(&co, NULL)) != 0) {
			fprintf(stderr, "sotto bridge: cannot confine: %s\n", sotto_strerror(r));
			passphrase_free(&pp);
			return 1;
		}
	}
	r = bridge_runner_start(&run, &cfg, why, sizeof(why));
	passphrase_free(&pp);
	if (r != 0)
		return open_failed(cli, home, r, why);
	if (bridge_runner_new_password(run))
		cli_printf(stderr, "sotto bridge: made a bridge password; "
		    "`%s bridge --show-password` shows it\n", cli_self(cli));
	printf("sotto bridge: SMTP on %s, IMAP on %s; user name %s\n", cfg.smtp, cfg.imap,
	    bridge_runner_user(run));
	fflush(stdout);
	while (sigwait(&sigs, &sig) != 0)
		;
	fprintf(stderr, "sotto bridge: stopping\n");
	bridge_runner_stop(run);
	return CLI_OK;
}
