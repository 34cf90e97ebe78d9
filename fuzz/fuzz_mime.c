/* MIME parsing and everything IMAP derives from it, on arbitrary mail. */
#include <stdint.h>
#include <string.h>

#include "bridge/mime.h"

static void
get(const struct mime_msg *m, const char *parts, enum mime_section_text text)
{
	struct mime_section s;
	struct buf out;

	memset(&s, 0, sizeof(s));
	for (; *parts; parts++)
		s.part[s.nparts++] = (uint32_t)(*parts - '0');
	s.text = text;
	s.fields[0].p = (const uint8_t *)"subject";
	s.fields[0].len = 7;
	s.nfields = 1;
	buf_init_dyn(&out, 1u << 26);
	(void)mime_section_get(m, &s, &out);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	struct buf out;

	if (mime_parse(&m, data, size) != 0)
		return 0;
	buf_init_dyn(&out, 1u << 26);
	mime_put_envelope(&out, &m, 0);
	mime_put_bodystructure(&out, &m, 0, 1);
	mime_put_bodystructure(&out, &m, 0, 0);
	mime_put_addresses(&out, data, size);
	buf_free(&out);
	get(&m, "", MIME_SEC_ALL);
	get(&m, "", MIME_SEC_HEADER_FIELDS);
	get(&m, "", MIME_SEC_HEADER_FIELDS_NOT);
	get(&m, "1", MIME_SEC_ALL);
	get(&m, "12", MIME_SEC_MIME);
	get(&m, "21", MIME_SEC_ALL);
	get(&m, "2", MIME_SEC_HEADER);
	get(&m, "2", MIME_SEC_TEXT);
	mime_free(&m);
	return 0;
}
