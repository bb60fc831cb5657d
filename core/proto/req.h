/* dw/req.h - the request schema: every field an action accepts, checked
 * before anything is done, so a typo or a wrong type never passes. */
#ifndef DW_REQ_H
#define DW_REQ_H

#include "base/json.h"
#include "base/error.h"

enum dw_ftype {
	DW_T_STRING,
	DW_T_INT,
	DW_T_NUMBER,
	DW_T_BOOL,
	DW_T_OBJECT,  /* sub: its fields */
	DW_T_STRINGS, /* array of strings */
	DW_T_OBJECTS, /* array of objects, each checked against sub */
	DW_T_MAP,     /* object with free keys and scalar values */
	DW_T_SECRET,  /* string, or "<name>_env" naming an environment variable */
	DW_T_ANY,     /* checked by the action itself */
};

#define DW_REQUIRED 0x1u

struct dw_field {
	const char *name;
	enum dw_ftype type;
	unsigned flags;
	const struct dw_field *sub; /* NULL-name terminated */
	const char *help;
};

/* A field, written with designated initializers so that tables keep
 * compiling when struct dw_field gains members (declarative binding:
 * default, bounds and where the value lands). */
#define DW_FIELD(n, t, fl, s, h) \
	{ .name = (n), .type = (t), .flags = (fl), .sub = (s), .help = (h) }

#define DW_FIELDS_END { .name = NULL }

/* Check obj against fields (and, if extra is not NULL, those too):
 * unknown fields, wrong types and missing required fields raise DW_INVALID
 * naming the field by its path ("user.password", "columns[2].type"). */
int dw_req_validate(const cJSON *obj, const struct dw_field *fields,
		    const struct dw_field *extra, const char *path);

/* Getters for validated requests.  Absent or null gives the default.
 * dw_req_int is exact in 64 bits (validation has refused non-integers and
 * |v| > 2^53); narrowing to a smaller type is the caller's, after a bounds
 * check. */
const char *dw_req_str(const cJSON *obj, const char *name, const char *def);
long long dw_req_int(const cJSON *obj, const char *name, long long def);
int dw_req_bool(const cJSON *obj, const char *name, int def);

/* A secret given as "<name>" or "<name>_env".  *out is NULL when neither is
 * present; otherwise a copy the caller frees, registered for redaction.
 * An _env naming an unset variable raises DW_INVALID for that field. */
int dw_req_secret(const cJSON *obj, const char *name, const char *path,
		  char **out);

/* Require that a string field, when present, is one of the NULL-terminated
 * choices. */
int dw_req_choice(const cJSON *obj, const char *name, const char *path,
		  const char *const *choices);

#endif
