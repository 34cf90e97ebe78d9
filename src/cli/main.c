#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "sotto: not built yet\n");
	return 1;
}
