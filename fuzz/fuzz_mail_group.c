/* A group's address (sotto_group_address_parse: what parses formats back to itself, in
 * lower case) and the mail mapping (mail_group.h) on arbitrary mail and text: a filed
 * mail has exactly one X-Sotto-Group field, the group's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_group.h"
#include "mail/mime.h"
#include "sotto/group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GID "0a1b"
#define ADDR "group+" GID "@example.org"

static void
address(const uint8_t *data, size_t size)
{
	char in[SOTTO_ADDRESS_MAX + 2], a[SOTTO_ADDRESS_MAX + 1];
	char id[2 * SOTTO_GROUP_ID_MAX + 1], dom[SOTTO_ADDRESS_MAX + 1];
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1, i;

	memcpy(in, data, n);
	in[n] = '\0';
	n = strlen(in);         /* the address ends at a NUL */
	if (sotto_group_address_parse(in, id, dom) != 0)
		return;
	if (sotto_group_address(id, dom, a) != 0 || strlen(a) != n)
		__builtin_trap();
	for (i = 0; i < n; i++)
		if (a[i] != (in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]))
			__builtin_trap();
}

static void
filed(const uint8_t *data, size_t size)
{
	struct mail_group g = { ADDR, GID, "Team" };
	struct span f, name, v;
	struct buf out;
	struct cur h;
	int n = 0, changed, direct;

	/* a group's mail has the group's field only; a 1:1 mail none */
	for (direct = 0; direct <= 1; direct++) {
		n = 0;
		buf_init_dyn(&out, size + MAIL_GROUP_GROWTH);
		if (mail_group_file(direct ? NULL : &g, data, size, &out, &changed) == 0 &&
		    changed) {
			cur_init(&h, out.p, out.len);
			while (mime_header_next(&h, &f, &name, &v))
				if (name.len == 13 && strncasecmp((const char *)scan_span(&h, name),
				    "X-Sotto-Group", 13) == 0)
					n++;
			if (n != (direct ? 0 : 1) || (direct && out.len >= size))
				__builtin_trap();
		}
		buf_free(&out);
	}
	buf_init_dyn(&out, 2 * size + MAIL_GROUP_GROWTH);
	if (size > 0 && size <= SOTTO_TEXT_MAX) {
		static const uint8_t id[SOTTO_ID_LEN];

		if (mail_group_text(&g, "bob@example.org", id, 0, data, size, &out) != 0)
			__builtin_trap();
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	address(data, size);
	filed(data, size);
	return 0;
}
