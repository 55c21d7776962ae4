/* decimal.h — the one syntax of a decimal number that cnn accepts, typed on
 * the command line or read from a model file's metadata:
 *   -?(D+(.D*)?|.D+)([eE][-+]?D+)?
 * what strtod takes, less leading blanks, '+', hex, inf and nan — so that a
 * model file cannot carry "0x10" where the command line refuses it.
 * Internal to the project (the library and the cnn program); not installed. */
#ifndef CNN_DECIMAL_H
#define CNN_DECIMAL_H

/* 1 when all of s is a decimal number of that syntax, else 0. */
int cnn_decimal_syntax(const char *s);

#endif
