/* sotto trust ADDRESS */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"

int cmd_trust(struct cli *cli, int argc, char **argv);

int
cmd_trust(struct cli *cli, int argc, char **argv)
{
	int r, rc;

	if ((rc = cli_contact_command(cli, "trust", argc, argv, sotto_trust, &r)) >= 0)
		return rc;
	if (r != 0)
		return cli_fail(cli, argv[optind], r);
	cli_printf(stdout, "%s: current identity key accepted (unverified: compare safety numbers "
	    "with `%s verify %s`)\n", argv[optind], cli_self(cli), argv[optind]);
	return CLI_OK;
}
