#include "mail/mailstore_folders.h"

#include <string.h>

const struct mailstore_folder mailstore_default_folders[MAILSTORE_DEFAULT_FOLDERS] = {
	{ "INBOX", MAILSTORE_ROLE_INBOX },
	{ "Sent", MAILSTORE_ROLE_SENT },
	{ "Drafts", MAILSTORE_ROLE_DRAFTS },
	{ "Trash", MAILSTORE_ROLE_TRASH },
};

int
mailstore_folder_index(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < MAILSTORE_DEFAULT_FOLDERS; i++)
		if (strcmp(mailstore_default_folders[i].name, name) == 0)
			return i;
	return -1;
}

int
mailstore_folders_default(void *impl, struct mailstore_folder *out, size_t max, size_t *n)
{
	(void)impl;
	*n = 0;
	for (size_t i = 0; i < MAILSTORE_DEFAULT_FOLDERS && i < max; i++)
		out[(*n)++] = mailstore_default_folders[i];
	return 0;
}
