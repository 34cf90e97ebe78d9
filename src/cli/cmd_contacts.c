/* sotto contacts [--json] [--require-pq on|off] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_contacts(struct cli *cli, int argc, char **argv);

int
cmd_contacts(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "require-pq", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("contacts");
	struct sotto_contact *v = NULL;
	struct sotto *s = NULL;
	size_t n = 0, i;
	int ch, r, json = 0, require_pq = -1;
	json_t *a;

	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'q':
			if (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0)
				require_pq = strcmp(optarg, "on") == 0;
			else
				return cli_usage(cli, cmd, "--require-pq takes on or off");
			break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cli, cmd, "no arguments");
	if ((r = cli_open(cli, &s)) != CLI_OK)
		return r;
	if (require_pq >= 0) {
		r = sotto_set_require_pq(s, require_pq);
		sotto_close(s);
		return r != 0 ? cli_fail(cli, "contacts --require-pq", r) : CLI_OK;
	}
	if ((r = sotto_contacts(s, &v, &n)) != 0) {
		sotto_close(s);
		return cli_fail(cli, "contacts", r);
	}
	if (json) {
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, cli_contact_json(&v[i]));
		cli_json_print(stdout, a);
		json_decref(a);
	} else {
		for (i = 0; i < n; i++) {
			cli_printf(stdout, "%-40s %-10s", v[i].address,
			    v[i].verified ? "verified" : "unverified");
			if (v[i].trust == SOTTO_TRUST_CHANGED)
				printf(" key changed");
			else if (v[i].trust == SOTTO_TRUST_BLOCKED)
				cli_printf(stdout, " KEY CHANGED: sending blocked until `%s trust %s`",
				    cli_self(cli), v[i].address);
			if (v[i].expiry != 0)
				printf(" expiry %us", v[i].expiry);
			if (v[i].has_session && !v[i].pq)
				printf(" CLASSICAL session (not post-quantum)");
			printf("\n");
		}
	}
	sotto_contacts_free(v, n);
	sotto_close(s);
	return CLI_OK;
}
