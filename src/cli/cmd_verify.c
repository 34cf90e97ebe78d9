/* sotto verify [--confirm] [--no-qr] [--json] ADDRESS */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_verify(struct cli *cli, int argc, char **argv);

int
cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "confirm", no_argument, NULL, 'c' },
		{ "no-qr", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("verify");
	char sn[SOTTO_SAFETY_LEN + 1], digits[61], qr[128];
	struct sotto_contact c;
	struct sotto *s = NULL;
	const char *peer;
	int ch, r, confirm = 0, noqr = 0, json = 0;
	json_t *o;
	char *out;

	while ((ch = getopt_long(argc, argv, "cnjh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': confirm = 1; break;
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
	r = sotto_safety_number(s, peer, sn, digits);
	if (r == SOTTO_ERR_NOT_FOUND) {
		fprintf(stderr, "%s: %s is not a contact yet: exchange a message first\n",
		    cli->prog, peer);
		sotto_close(s);
		return CLI_EXIT_NOT_FOUND;
	}
	if (r != 0) {
		sotto_close(s);
		return cli_fail(cli, "safety number", r);
	}
	if (confirm && (r = sotto_verify(s, peer)) != 0) {
		if (r == SOTTO_ERR_UNTRUSTED_IDENTITY)
			fprintf(stderr, "%s: the key of %s changed: run `sotto trust %s` first\n",
			    cli->prog, peer, peer);
		else
			(void)cli_fail(cli, "verify", r);
		sotto_close(s);
		return cli_exit_code(r);
	}
	if ((r = sotto_contact(s, peer, &c)) != 0) {
		sotto_close(s);
		return cli_fail(cli, "contact", r);
	}
	if (json) {
		o = json_object();
		json_object_set_new(o, "address", json_string(peer));
		json_object_set_new(o, "safety_number", json_string(sn));
		json_object_set_new(o, "verified", json_boolean(c.verified));
		json_object_set_new(o, "trust", json_string(cli_trust_name(c.trust)));
		if ((out = json_dumps(o, JSON_COMPACT)) != NULL) {
			printf("%s\n", out);
			free(out);
		}
		json_decref(o);
	} else {
		printf("Safety number with %s:\n\n", peer);
		printf("    %.23s\n    %.23s\n    %.23s\n\n", sn, sn + 24, sn + 48);
		if (!noqr) {
			snprintf(qr, sizeof(qr), "sotto-safety:0:%s", digits);
			(void)cli_qr_print(stdout, qr);
			printf("\n");
		}
		if (c.verified)
			printf("%s is verified.\n", peer);
		else
			printf("Compare this with %s's screen (in person, or over a channel you trust).\n"
			    "If they match: sotto verify --confirm %s\n", peer, peer);
	}
	sotto_close(s);
	return CLI_OK;
}
