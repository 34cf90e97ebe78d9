/* sotto init ADDRESS --server SERVER_ADDRESS [--invite TOKEN] [--kdf COST] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/passphrase.h"

int cmd_init(struct cli *cli, int argc, char **argv);

/* The mail bridge's password, made now so `sotto bridge --show-password` has one to show
 * before the bridge first runs. A failure only delays it to the bridge's first start. */
static void
make_bridge_password(struct cli *cli, struct sotto *s)
{
	char pw[SOTTO_BRIDGE_PASSWORD_CHARS + 1], hash[SOTTO_BRIDGE_HASH_MAX];
	int r, created = 0;

	r = sotto_bridge_password(s, pw, hash, &created);
	sodium_memzero(pw, sizeof(pw));
	if (r != 0)
		cli_printf(stderr, "%s: the mail bridge password will be made when `%s bridge`"
		    " first runs (%s)\n", cli->prog, cli_self(cli), sotto_strerror(r));
	else
		cli_printf(stdout, "made a password for the mail bridge: `%s bridge "
		    "--show-password` shows it\n", cli_self(cli));
}

/* Why registering failed, and what to do; returns the exit code. */
static int
init_failed(struct cli *cli, const char *address, const char *server, const char *invite,
    int r)
{
	char what[600];

	switch (r) {
	case SOTTO_ERR_MALFORMED:
		cli_printf(stderr, "%s: %s is not a server address: it looks like "
		    "sotto://KEY@host:port (`sottod address` on the server prints it)\n",
		    cli->prog, server);
		return CLI_EXIT_INVALID;
	case SOTTO_ERR_EXISTS:
		cli_printf(stderr, "%s: the name %s is taken on that server: choose another\n",
		    cli->prog, address);
		return CLI_EXIT_REFUSED;
	case SOTTO_ERR_AUTH:
		if (invite == NULL) {
			cli_printf(stderr, "%s: that server registers by invite only: ask its "
			    "operator for one (`sottod invite`), then `%s init %s --server %s "
			    "--invite TOKEN`\n", cli->prog, cli_self(cli), address, server);
			return CLI_EXIT_REFUSED;
		}
		break;
	case SOTTO_ERR_OTHER_DOMAIN:
		cli_printf(stderr, "%s: %s: that server does not serve the domain of this address "
		    "(the part after @ must be the server's domain)\n", cli->prog, address);
		return CLI_EXIT_REFUSED;
	default:
		break;
	}
	if (cli_exit_code(r) == CLI_EXIT_NETWORK) {
		cli_report_connect(cli, server, r);
		return cli_exit_code(r);
	}
	snprintf(what, sizeof(what), "registering %s", address);
	return cli_fail(cli, what, r);
}

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
	char home[4096], address[SOTTO_ADDRESS_MAX + 1];
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
	/* Checked (and folded to lower case) before a store is made for it. */
	if ((r = sotto_address_normalize(argv[optind], address)) != 0)
		return cli_fail(cli, argv[optind], r);
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
		    strcmp(sotto_address(s), address) != 0)
			r = SOTTO_ERR_EXISTS;
	}
	if (r == SOTTO_ERR_EXISTS) {
		passphrase_free(&pp);
		cli_printf(stderr, "%s: an account already exists in %s\n", cli->prog, home);
		sotto_close(s);
		return CLI_EXIT_EXISTS;
	}
	if (r != 0) {
		passphrase_free(&pp);
		return cli_fail(cli, "cannot create the store", r);
	}
	r = sotto_init(s, address, server, invite, 10000);
	if (r == SOTTO_ERR_STATE) {
		cli_printf(stderr, "%s: %s is already registered\n", cli->prog, sotto_address(s));
		sotto_close(s);
		passphrase_free(&pp);
		return CLI_EXIT_EXISTS;
	}
	if (r != 0) {
		r = init_failed(cli, address, server, invite, r);
		sotto_close(s);
		passphrase_free(&pp);
		return r;
	}
	cli_printf(stdout, "registered %s on %s\n", sotto_address(s), sotto_server(s));
	make_bridge_password(cli, s);
	sotto_close(s);
	passphrase_free(&pp);
	return CLI_OK;
}
