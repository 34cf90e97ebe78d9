/* sotto token rotate: a new delivery token, registered and given to every contact. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_token(struct cli *cli, int argc, char **argv);

int
cmd_token(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("token");
	struct sotto *s = NULL;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(cmd);
		return cli_usage(cli, cmd, NULL);
	}
	if (optind + 1 != argc || strcmp(argv[optind], "rotate") != 0)
		return cli_usage(cli, cmd, "`rotate`");
	if ((r = cli_open(cli, &s)) != CLI_OK)
		return r;
	r = sotto_token_rotate(s);
	sotto_close(s);
	if (r == SOTTO_ERR_QUEUED) {
		cli_printf(stdout, "delivery token rotated; given to contacts (some queued)\n");
		return CLI_EXIT_QUEUED;
	}
	if (r != 0)
		return cli_fail(cli, "token rotate", r);
	cli_printf(stdout, "delivery token rotated and given to contacts\n");
	return CLI_OK;
}
