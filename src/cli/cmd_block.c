/* sotto block ADDRESS: no sending to it, and its copy of our delivery token refused. */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"

int cmd_block(struct cli *cli, int argc, char **argv);

int
cmd_block(struct cli *cli, int argc, char **argv)
{
	int r, rc;

	if ((rc = cli_contact_command(cli, "block", argc, argv, sotto_block, &r)) >= 0)
		return rc;
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
