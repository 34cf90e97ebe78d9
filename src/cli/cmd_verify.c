/*
 * sotto verify [--confirm NUMBER] [--no-qr] [--json] ADDRESS
 *
 * The mark is bound to the number the user compared: --confirm takes that number, and the
 * contact is marked verified only if it is still the safety number of the key it holds.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_verify(struct cli *cli, int argc, char **argv);

#define VERIFY_TIMEOUT_MS 10000

/* Makes peer a contact if it is none yet (its key from the server). */
static int
ensure_contact(struct cli *cli, struct sotto *s, const char *peer)
{
	struct sotto_contact c;
	int r;

	if ((r = sotto_contact(s, peer, &c)) != SOTTO_ERR_NOT_FOUND)
		return r == 0 ? CLI_OK : cli_fail(cli, peer, r);
	/* The server pushes to an account's newest connection: not beside a daemon. */
	if ((r = cli_daemon_lock(cli, NULL)) != CLI_OK)
		return r;
	if ((r = sotto_contact_fetch(s, peer, VERIFY_TIMEOUT_MS)) != 0) {
		if (cli_exit_code(r) == CLI_EXIT_NETWORK) {
			cli_report_connect(cli, sotto_server(s), r);
			return cli_exit_code(r);
		}
		return cli_fail(cli, peer, r);
	}
	return CLI_OK;
}

static int
print_number(struct cli *cli, struct sotto *s, const char *peer, int json, int noqr)
{
	char sn[SOTTO_SAFETY_LEN + 1], digits[61], qr[128];
	struct sotto_contact c;
	json_t *o;
	int r;

	if ((r = sotto_safety_number(s, peer, sn, digits)) != 0 ||
	    (r = sotto_contact(s, peer, &c)) != 0)
		return cli_fail(cli, "safety number", r);
	if (json) {
		o = json_object();
		json_object_set_new(o, "address", json_string(c.address));
		json_object_set_new(o, "safety_number", json_string(sn));
		json_object_set_new(o, "verified", json_boolean(c.verified));
		json_object_set_new(o, "trust", json_string(cli_trust_name(c.trust)));
		cli_json_print(stdout, o);
		json_decref(o);
		return CLI_OK;
	}
	cli_printf(stdout, "Safety number with %s:\n\n", c.address);
	printf("    %.23s\n    %.23s\n    %.23s\n\n", sn, sn + 24, sn + 48);
	if (!noqr) {
		snprintf(qr, sizeof(qr), "sotto-safety:0:%s", digits);
		(void)cli_qr_print(stdout, qr);
		printf("\n");
	}
	if (c.verified)
		cli_printf(stdout, "%s is verified.\n", c.address);
	else
		cli_printf(stdout, "Compare this with %s's screen (in person, or over a channel you "
		    "trust).\nIf they match:\n  %s verify --confirm '%s' %s\n", c.address,
		    cli_self(cli), sn, c.address);
	return CLI_OK;
}

int
cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "confirm", required_argument, NULL, 'c' },
		{ "no-qr", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("verify");
	struct sotto *s = NULL;
	const char *peer, *confirm = NULL;
	int ch, r, noqr = 0, json = 0;

	while ((ch = getopt_long(argc, argv, "c:njh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': confirm = optarg; break;
		case 'n': noqr = 1; break;
		case 'j': json = 1; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cli, cmd, "one ADDRESS");
	peer = argv[optind];
	if ((r = cli_open(cli, &s)) != CLI_OK)
		return r;
	if ((r = ensure_contact(cli, s, peer)) != CLI_OK)
		goto out;
	if (confirm != NULL && (r = sotto_verify_number(s, peer, confirm)) != 0) {
		if (r == SOTTO_ERR_UNTRUSTED_IDENTITY)
			cli_printf(stderr, "%s: the key of %s changed: run `%s trust %s` first\n",
			    cli->prog, peer, cli_self(cli), peer);
		else if (r == SOTTO_ERR_SAFETY_MISMATCH)
			cli_printf(stderr, "%s: %s: %s; nothing was marked. Compare again: `%s "
			    "verify %s`\n", cli->prog, peer, sotto_strerror(r), cli_self(cli), peer);
		else
			cli_report(cli, "verify", r);
		r = cli_exit_code(r);
		goto out;
	}
	r = print_number(cli, s, peer, json, noqr);
out:
	sotto_close(s);
	return r;
}
