/* Where a store lives, for front ends (sotto.h): the default home and whether one is there. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "client/store.h"
#include "sotto/sotto.h"

int
sotto_default_home(char *out, size_t cap)
{
	return store_default_dir(out, cap);
}

int
sotto_store_exists(const char *home)
{
	char path[4200];
	struct stat sb;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", home, STORE_FILE_NAME) >= sizeof(path))
		return 1;       /* let the store say what is wrong */
	return stat(path, &sb) == 0 || errno != ENOENT;
}
