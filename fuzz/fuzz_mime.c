/* MIME parsing and everything IMAP derives from it, on arbitrary mail. */
#include <stdint.h>
#include <string.h>

#include "imap/imap_mime.h"
#include "mail/mime.h"

static void
get(const struct mime_msg *m, const char *parts, enum imap_section_text text)
{
	struct imap_section s;
	struct buf out;

	memset(&s, 0, sizeof(s));
	for (; *parts; parts++)
		s.part[s.nparts++] = (uint32_t)(*parts - '0');
	s.text = text;
	s.fields[0].p = (const uint8_t *)"subject";
	s.fields[0].len = 7;
	s.nfields = 1;
	buf_init_dyn(&out, 1u << 26);
	(void)imap_mime_section_get(m, &s, &out);
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
	imap_mime_envelope(&out, &m, 0);
	imap_mime_bodystructure(&out, &m, 0, 1);
	imap_mime_bodystructure(&out, &m, 0, 0);
	imap_mime_addresses(&out, data, size);
	buf_free(&out);
	get(&m, "", IMAP_SEC_ALL);
	get(&m, "", IMAP_SEC_HEADER_FIELDS);
	get(&m, "", IMAP_SEC_HEADER_FIELDS_NOT);
	get(&m, "1", IMAP_SEC_ALL);
	get(&m, "12", IMAP_SEC_MIME);
	get(&m, "21", IMAP_SEC_ALL);
	get(&m, "2", IMAP_SEC_HEADER);
	get(&m, "2", IMAP_SEC_TEXT);
	mime_free(&m);
	return 0;
}
