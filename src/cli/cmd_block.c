/* sotto block ADDRESS: no sending to it, and its copy of our delivery token refused. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

int cmd_block(struct cli *cli, int argc, char **argv);

int
cmd_block(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("block");
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
	r = sotto_block(s, argv[optind]);
	sotto_close(s);
	if (r == SOTTO_ERR_NOT_FOUND) {
		cli_printf(stderr, "%s: %s is not a contact\n", cli->prog, argv[optind]);
		return CLI_EXIT_NOT_FOUND;
	}
	if (r == SOTTO_ERR_QUEUED) {
		cli_printf(stdout, "%s: blocked; the new delivery token waits in the outbox for "
		    "some contacts\n", argv[optind]);
		return CLI_EXIT_QUEUED;
	}
	if (r != 0)
		return cli_fail(cli, argv[optind], r);
	cli_printf(stdout, "%s: blocked; delivery token rotated and given to the other "
	    "contacts\n", argv[optind]);
	return CLI_OK;
}
