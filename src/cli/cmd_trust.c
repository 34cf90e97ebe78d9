/* sotto trust ADDRESS */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

int cmd_trust(struct cli *cli, int argc, char **argv);

int
cmd_trust(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("trust");
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
	r = sotto_trust(s, argv[optind]);
	sotto_close(s);
	if (r == SOTTO_ERR_NOT_FOUND) {
		cli_printf(stderr, "%s: %s is not a contact\n", cli->prog, argv[optind]);
		return CLI_EXIT_NOT_FOUND;
	}
	if (r != 0)
		return cli_fail(cli, argv[optind], r);
	cli_printf(stdout, "%s: current identity key accepted (unverified: compare safety numbers "
	    "with `%s verify %s`)\n", argv[optind], cli_self(cli), argv[optind]);
	return CLI_OK;
}
