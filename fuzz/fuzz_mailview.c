/* How the command line shows a mail (part) from a peer: the part header, the Subject. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct sotto_mail_summary m;

	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		return 0;
	sotto_mail_summary(data, size, &m);
	if (strlen(m.subject) > SOTTO_MAIL_SUBJECT_MAX)
		__builtin_trap();
	cli_print_text(sink, (const uint8_t *)m.subject, strlen(m.subject));
	cli_print_size(sink, m.size);
	return 0;
}
