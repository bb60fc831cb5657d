/* base/json.h - JSON for the whole core, on cJSON: a strict parser for
 * requests and answers (duplicate keys, depth, size), and integers kept
 * exact in 64 bits (cJSON's valueint is an int and saturates at INT_MAX). */
#ifndef DW_JSON_H
#define DW_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Requests (stdin or --request FILE) larger than this are refused with a
 * clear error (RequestTooLarge) before they are parsed: 4 MiB. */
#define DW_JSON_MAX_REQUEST (4u << 20)

/* Deepest nesting accepted by dw_json_parse. */
#define DW_JSON_MAX_DEPTH 64

/* Parse exactly one JSON value from len bytes of text (what names the input
 * in messages, e.g. "request").  Strict: nothing but white space after the
 * value; nesting deeper than 64 refused; a key repeated in one object is
 * refused naming it by path ("duplicate key \"dry_run\"", field "dry_run" or
 * "user.password").  A syntax error says where, as line and column, and never
 * quotes the text around it (it may hold a password).  Returns 0 with *out
 * (caller deletes), or -1 with an error raised (kind DW_INVALID, code
 * InvalidJson, or DuplicateKey with the key's path as field). */
int dw_json_parse(const char *text, size_t len, const char *what, cJSON **out);

/* dw_json_parse of a file's contents, refused (DW_INVALID, naming field)
 * when it cannot be read or is larger than max bytes. */
int dw_json_read_file(const char *path, size_t max, const char *field, cJSON **out);

/* An integer held by a number item, exactly: 0 and *out when v is a number
 * with no fractional part and |value| <= 2^53 (beyond that a double is no
 * longer exact); -1 otherwise (nothing raised).  Never use cJSON's valueint:
 * it saturates at INT_MAX. */
int dw_json_int(const cJSON *v, long long *out);

/* Add an integer exactly (a 6 GiB size, epoch milliseconds): a number item
 * for |v| <= 2^53, a raw integer literal beyond (and from 10^15 on, where
 * cJSON's printer would round to 15 digits).  Returns the item or NULL. */
cJSON *dw_json_add_int(cJSON *obj, const char *name, long long v);
cJSON *dw_json_int_new(long long v);   /* the same, not yet added anywhere */

/* The string value of obj[name], or NULL when absent or not a string. */
const char *dw_json_str(const cJSON *obj, const char *name);

/* Compact text of v (caller frees with cJSON_free), or NULL on no memory. */
char *dw_json_print(const cJSON *v);

#endif
