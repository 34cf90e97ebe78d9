/* sotto expire ADDRESS DURATION */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

int cmd_expire(struct cli *cli, int argc, char **argv);

int
cmd_expire(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("expire");
	struct sotto *s = NULL;
	long secs;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(cmd);
		return cli_usage(cli, cmd, NULL);
	}
	if (optind + 2 != argc)
		return cli_usage(cli, cmd, "ADDRESS and DURATION");
	if ((secs = cli_parse_duration(argv[optind + 1])) < 0)
		return cli_usage(cli, cmd, "DURATION: e.g. 30s, 10m, 1h, 7d, 1w or off (at most 365d)");
	if ((r = cli_daemon_lock(cli, NULL)) != CLI_OK || (r = cli_open(cli, &s)) != CLI_OK)
		return r;
	r = sotto_set_expiry(s, argv[optind], (uint32_t)secs);
	sotto_close(s);
	if (r != 0)
		return cli_fail(cli, argv[optind], r);
	if (secs == 0)
		cli_printf(stdout, "disappearing messages with %s: off\n", argv[optind]);
	else
		cli_printf(stdout, "disappearing messages with %s: %ld s\n", argv[optind], secs);
	return CLI_OK;
}
