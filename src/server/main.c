#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "sottod: not built yet\n");
	return 1;
}
