/* decimal.c — the strict decimal-number syntax (see decimal.h). */
#include <ctype.h>
#include <stddef.h>

#include "decimal.h"

int cnn_decimal_syntax(const char *s)
{
    if (*s == '-')
        s++;
    size_t int_digits = 0, frac_digits = 0;
    while (isdigit((unsigned char)*s)) {
        s++;
        int_digits++;
    }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            s++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}
