/* SMTP command lines through every parser the engine applies to them: the verb, paths
 * and ESMTP parameters for MAIL/RCPT, the AUTH arguments and a SASL PLAIN response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/sasl.h"
#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd c;
	struct smtp_path path;
	struct smtp_mail_params mp;
	struct sasl_plain sp;
	uint8_t dec[1024];
	char mech[21];
	const uint8_t *ir;
	size_t used, irlen, n;

	if (size > 4096)
		return 0;
	if (smtp_parse_command(data, size, &c) != 0)
		return 0;
	if (c.arg_len > size)
		abort();
	switch (c.verb) {
	case SMTP_MAIL:
	case SMTP_RCPT:
		if (smtp_parse_path(c.arg, c.arg_len, &path, &used) != 0)
			break;
		if (used > c.arg_len || path.len > SMTP_PATH_MAX || strlen(path.addr) != path.len)
			abort();
		if (c.verb == SMTP_MAIL) {
			if (smtp_parse_mail_params(c.arg + used, c.arg_len - used, &mp) == 0 &&
			    mp.body > SMTP_BODY_8BITMIME)
				abort();
		} else {
			(void)smtp_parse_rcpt_params(c.arg + used, c.arg_len - used);
		}
		break;
	case SMTP_AUTH:
		if (smtp_parse_auth(c.arg, c.arg_len, mech, &ir, &irlen) != 0 || ir == NULL)
			break;
		if (strlen(mech) > 20)
			abort();
		if (sasl_b64_decode(ir, irlen, dec, sizeof(dec), &n) == 0) {
			if (n > sizeof(dec))
				abort();
			if (sasl_plain_parse(dec, n, 320, 256, &sp) == 0 &&
			    (sp.authcid_len == 0 || sp.passwd_len == 0 ||
			    sp.authcid_len + sp.passwd_len + 2 > n + 1))
				abort();
		}
		break;
	default:
		break;
	}
	return 0;
}
