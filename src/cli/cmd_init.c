/* sotto init ADDRESS --server SERVER_ADDRESS [--invite TOKEN] [--kdf COST] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "client/passphrase.h"

int cmd_init(struct cli *cli, int argc, char **argv);

int
cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "invite", required_argument, NULL, 'i' },
		{ "kdf", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("init");
	const char *server = NULL, *invite = NULL;
	enum sotto_kdf kdf = SOTTO_KDF_INTERACTIVE;
	struct passphrase pp = { 0 };
	struct sotto *s = NULL;
	char home[4096];
	unsigned warn = 0;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "s:i:k:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 'i': invite = optarg; break;
		case 'k':
			if (strcmp(optarg, "interactive") == 0)
				kdf = SOTTO_KDF_INTERACTIVE;
			else if (strcmp(optarg, "moderate") == 0)
				kdf = SOTTO_KDF_MODERATE;
			else if (strcmp(optarg, "min") == 0)
				kdf = SOTTO_KDF_MIN;
			else
				return cli_usage(cli, cmd, "--kdf is interactive, moderate or min");
			break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind + 1 != argc || server == NULL)
		return cli_usage(cli, cmd, server == NULL ? "--server is required" : "one ADDRESS");
	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return cli_fail(cli, "home directory", r);
	if ((r = passphrase_get(cli->passfile, "New passphrase for the store: ", 1, stderr, &pp,
	    &warn)) != 0) {
		fprintf(stderr, "%s: cannot read the passphrase: %s\n", cli->prog, sotto_strerror(r));
		return CLI_EXIT_PASSPHRASE;
	}
	r = sotto_create(&s, home, pp.p, pp.len, kdf);
	if (r == SOTTO_ERR_EXISTS) {
		/* A store from an init that did not finish registering is reused. */
		if ((r = sotto_open(&s, home, pp.p, pp.len)) == 0 && sotto_address(s)[0] != '\0' &&
		    strcmp(sotto_address(s), argv[optind]) != 0)
			r = SOTTO_ERR_EXISTS;
	}
	passphrase_free(&pp);
	if (r == SOTTO_ERR_EXISTS) {
		fprintf(stderr, "%s: an account already exists in %s\n", cli->prog, home);
		sotto_close(s);
		return CLI_EXIT_EXISTS;
	}
	if (r != 0)
		return cli_fail(cli, "cannot create the store", r);
	r = sotto_init(s, argv[optind], server, invite, 10000);
	if (r == SOTTO_ERR_STATE) {
		fprintf(stderr, "%s: %s is already registered\n", cli->prog, sotto_address(s));
		sotto_close(s);
		return CLI_EXIT_EXISTS;
	}
	if (r != 0) {
		r = cli_fail(cli, r == SOTTO_ERR_MALFORMED ? "bad address or server address" :
		    cli_exit_code(r) == CLI_EXIT_NETWORK ? "cannot reach the server" :
		    "registration failed", r);
		sotto_close(s);
		return r;
	}
	printf("registered %s on %s\n", sotto_address(s), sotto_server(s));
	sotto_close(s);
	return CLI_OK;
}
