/* cli_json.c — the one piece of JSON writing the --json outputs share:
 * strings (file names) must be quoted and escaped, or a name with a quote or
 * a newline in it would break the output for whatever parses it. */
#include <stdio.h>

#include "cli.h"

void cli_json_string(FILE *f, const char *s)
{
    putc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            putc(c, f); /* UTF-8 passes through, as file names usually are */
    }
    putc('"', f);
}
