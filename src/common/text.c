/* Text helpers (see text.h). */
#include "common/text.h"

#include <ctype.h>
#include <string.h>

char *zk_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}
