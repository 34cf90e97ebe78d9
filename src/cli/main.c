/* sotto: the command-line client. Global options, then a subcommand from the table. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void
usage_all(FILE *f)
{
	const struct cli_cmd *c;

	fprintf(f, "usage: sotto [--home DIR] [--passphrase-file FILE] COMMAND [ARGS]\n\n"
	    "Commands:\n");
	for (c = cli_commands; c->name != NULL; c++)
		fprintf(f, "  %-9s %s\n", c->name, c->usage);
	fprintf(f, "\n`sotto COMMAND --help` describes one; man sotto has the rest.\n"
	    "The account is in --home, else $SOTTO_HOME, else ~/.sotto.\n"
	    "The passphrase comes from --passphrase-file, else $SOTTO_PASSPHRASE, else the terminal.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .prog = "sotto" };
	const struct cli_cmd *cmd;
	int ch;

	setlocale(LC_CTYPE, "");
	while ((ch = getopt_long(argc, argv, "+H:P:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': cli.home = optarg; break;
		case 'P': cli.passfile = optarg; break;
		case 'h': usage_all(stdout); return CLI_OK;
		default: usage_all(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_all(stderr);
		return CLI_EXIT_USAGE;
	}
	if ((cmd = cli_find(argv[optind])) == NULL) {
		cli_printf(stderr, "sotto: unknown command '%s'\n", argv[optind]);
		usage_all(stderr);
		return CLI_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0;     /* each command parses its own options from its name on */
	return cmd->run(&cli, argc, argv);
}
