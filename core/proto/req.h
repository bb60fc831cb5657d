/* proto/req.h - the request schema: every field an action accepts, checked
 * before anything is done, so a typo or a wrong type never passes.
 *
 * A field is written once, in its action's table: name, type, default,
 * bounds, choices and where it lands in the action's options struct.  The
 * table checks the request (dw_req_validate, run by dw_op_main before the
 * action), fills the struct (dw_req_bind) and writes --help:
 *
 *	struct acquire_req { const char *resource; long long ttl_s; int write; };
 *	static const struct dw_field acquire_fields[] = {
 *		DW_STR("resource", struct acquire_req, resource, DW_REQUIRED, NULL, "what is locked"),
 *		DW_INT("ttl_s", struct acquire_req, ttl_s, 0, 120, 1, 604800, "lease length in seconds"),
 *		DW_CHOICE("mode", struct acquire_req, write, 0, "read", DW_CHOICES("read", "write"),
 *			  "what the lease allows"),
 *		DW_FIELDS_END
 *	};
 *	struct acquire_req q;
 *	if (dw_req_bind(ctx->req, acquire_fields, &q)) return -1;
 *
 * The member's type is checked at compile time (_Generic): a DW_INT lands in
 * an int, unsigned, long, unsigned long or long long, and its bounds are
 * checked on the 64-bit value before it is narrowed (4294967297 is refused,
 * never stored as 1), so a bound wider than the member is cut to the
 * member's range. */
#ifndef DW_REQ_H
#define DW_REQ_H

#include "base/json.h"
#include "base/error.h"

#include <stddef.h>
#include <stdio.h>

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

/* Where a bound field lands: the kind of its member. */
enum dw_bind {
	DW_B_NONE,    /* validated only */
	DW_B_INT,     /* int: an integer, a boolean (0/1) or a choice's index */
	DW_B_UINT,    /* unsigned */
	DW_B_LONG,    /* long */
	DW_B_ULONG,   /* unsigned long (size_t) */
	DW_B_LLONG,   /* long long */
	DW_B_DOUBLE,  /* double */
	DW_B_BOOL,    /* _Bool */
	DW_B_STR,     /* const char *, borrowed from the request (NULL: absent) */
	DW_B_SECRET,  /* char *, a copy registered for redaction; dw_req_release frees it */
	DW_B_JSON,    /* const cJSON *, borrowed from the request (NULL: absent) */
	DW_B_STRUCT,  /* an embedded struct, filled from sub (defaults when absent) */
};

#define DW_REQUIRED 0x1u
/* The field has no default worth showing in --help: its help says what
 * leaving it out means (the member still gets def, e.g. a sentinel). */
#define DW_NODEFAULT 0x2u
#define DW_F_BOUNDED_ 0x100u /* min/max apply (set by DW_INT, DW_NUM) */
#define DW_F_DEFAULT_ 0x200u /* def_int/def_num is the default (DW_INT, DW_BOOL, DW_NUM) */

struct dw_field {
	const char *name;
	enum dw_ftype type;
	unsigned flags;
	const struct dw_field *sub; /* NULL-name terminated */
	const char *help;
	/* Declarative binding (all zero: validated only, read with getters). */
	enum dw_bind bind;
	size_t offset;                /* of the member in the options struct */
	long long def_int;            /* integers, booleans */
	double def_num;               /* numbers */
	const char *def_str;          /* strings and choices (NULL: none) */
	long long min, max;           /* inclusive, with DW_F_BOUNDED_ */
	const char *const *choices;   /* NULL-terminated, or NULL: any string */
};

/* A field, written with designated initializers so that tables keep
 * compiling when struct dw_field gains members.  Validated only. */
#define DW_FIELD(n, t, fl, s, h) \
	{ .name = (n), .type = (t), .flags = (fl), .sub = (s), .help = (h) }

#define DW_FIELDS_END { .name = NULL }

/* A NULL-terminated list of a string field's choices. */
#define DW_CHOICES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The member's kind, checked at compile time. */
#define DW_M_(T, m) (((T *)0)->m)
#define DW_B_INTS_(T, m) _Generic(DW_M_(T, m), int: DW_B_INT, unsigned: DW_B_UINT, \
	long: DW_B_LONG, unsigned long: DW_B_ULONG, long long: DW_B_LLONG)
#define DW_AT_(T, m) .offset = offsetof(T, m)

/* A string (def: NULL or a literal). */
#define DW_STR(n, T, m, fl, def, h) \
	{ .name = (n), .type = DW_T_STRING, .flags = (fl), .help = (h), .def_str = (def), \
	  DW_AT_(T, m), .bind = _Generic(DW_M_(T, m), const char *: DW_B_STR) }
/* A string that must be one of choices (DW_CHOICES(...)): into a const
 * char * (the string) or an int (its index in choices; -1 when absent
 * without a default). */
#define DW_CHOICE(n, T, m, fl, def, ch, h) \
	{ .name = (n), .type = DW_T_STRING, .flags = (fl), .help = (h), .def_str = (def), \
	  .choices = (ch), DW_AT_(T, m), \
	  .bind = _Generic(DW_M_(T, m), const char *: DW_B_STR, int: DW_B_INT) }
/* An integer within [lo, hi]. */
#define DW_INT(n, T, m, fl, def, lo, hi, h) \
	{ .name = (n), .type = DW_T_INT, .flags = (fl) | DW_F_BOUNDED_ | DW_F_DEFAULT_, \
	  .help = (h), .def_int = (def), .min = (lo), .max = (hi), DW_AT_(T, m), \
	  .bind = DW_B_INTS_(T, m) }
/* A number (a double) within [lo, hi]. */
#define DW_NUM(n, T, m, fl, def, lo, hi, h) \
	{ .name = (n), .type = DW_T_NUMBER, .flags = (fl) | DW_F_BOUNDED_ | DW_F_DEFAULT_, \
	  .help = (h), .def_num = (def), .min = (lo), .max = (hi), DW_AT_(T, m), \
	  .bind = _Generic(DW_M_(T, m), double: DW_B_DOUBLE) }
/* true or false, into an int (0/1) or a _Bool. */
#define DW_BOOL(n, T, m, fl, def, h) \
	{ .name = (n), .type = DW_T_BOOL, .flags = (fl) | DW_F_DEFAULT_, .help = (h), \
	  .def_int = (def), DW_AT_(T, m), \
	  .bind = _Generic(DW_M_(T, m), int: DW_B_INT, _Bool: DW_B_BOOL) }
/* A secret ("<n>" or "<n>_env") into a char * the caller frees with
 * dw_req_release. */
#define DW_SECRET(n, T, m, fl, h) \
	{ .name = (n), .type = DW_T_SECRET, .flags = (fl), .help = (h), DW_AT_(T, m), \
	  .bind = _Generic(DW_M_(T, m), char *: DW_B_SECRET) }
/* JSON values borrowed as const cJSON * (NULL when absent): an object
 * checked against sub, an array of strings, an array of objects each checked
 * against sub, a map of names to scalars, anything. */
#define DW_JSON_(n, t, T, m, fl, s, h) \
	{ .name = (n), .type = (t), .flags = (fl), .sub = (s), .help = (h), DW_AT_(T, m), \
	  .bind = _Generic(DW_M_(T, m), const cJSON *: DW_B_JSON) }
#define DW_OBJ(n, T, m, fl, s, h) DW_JSON_(n, DW_T_OBJECT, T, m, fl, s, h)
#define DW_STRINGS(n, T, m, fl, h) DW_JSON_(n, DW_T_STRINGS, T, m, fl, NULL, h)
#define DW_OBJS(n, T, m, fl, s, h) DW_JSON_(n, DW_T_OBJECTS, T, m, fl, s, h)
#define DW_MAP(n, T, m, fl, h) DW_JSON_(n, DW_T_MAP, T, m, fl, NULL, h)
#define DW_ANY(n, T, m, fl, h) DW_JSON_(n, DW_T_ANY, T, m, fl, NULL, h)
/* An object filled into the embedded struct member m by sub (whose offsets
 * are relative to m); when absent, m gets sub's defaults. */
#define DW_STRUCT(n, T, m, fl, s, h) \
	{ .name = (n), .type = DW_T_OBJECT, .flags = (fl), .sub = (s), .help = (h), \
	  DW_AT_(T, m), .bind = DW_B_STRUCT }

/* Fields every action accepts: action, region, endpoint_url, endpoints,
 * profile, max_attempts, timeout_s; dw_req_common reads them into this. */
struct dw_common_req {
	const char *action, *region, *profile, *endpoint_url;
	const cJSON *endpoints;
	int max_attempts;   /* 0: AWS_MAX_ATTEMPTS, else 3 */
	long timeout_s;     /* 0: the default (60) */
};
extern const struct dw_field dw_common_fields[];
/* The common fields of a request validated against dw_common_fields. */
void dw_req_common(const cJSON *req, struct dw_common_req *out);

/* Check obj against fields (and, if extra is not NULL, those too):
 * unknown fields, wrong types, values out of bounds or not among the
 * choices and missing required fields raise DW_INVALID naming the field by
 * its path ("user.password", "columns[2].type"). */
int dw_req_validate(const cJSON *obj, const struct dw_field *fields,
		    const struct dw_field *extra, const char *path);

/* Validate an operator's request against fields (and dw_common_fields) and
 * fill opts: every bound member gets the request's value or the field's
 * default, secrets are read (directly or from NAME_env).  Members of fields
 * without a binding are left alone.  -1 with DW_INVALID raised (and nothing
 * left to free) when the request is wrong; after 0, dw_req_release(fields,
 * opts) frees the secrets. */
int dw_req_bind(const cJSON *req, const struct dw_field *fields, void *opts);
/* The same for a part of a request at path ("user", "columns[2]"), checked
 * against fields only. */
int dw_req_bind_at(const cJSON *obj, const struct dw_field *fields,
		   const char *path, void *opts);
/* Free the secrets dw_req_bind copied into opts (and NULL them). */
void dw_req_release(const struct dw_field *fields, void *opts);

/* One line per field for --help, indented by depth: name, type, whether it
 * is required, the help text, then the default, bounds and choices from the
 * table. */
void dw_req_print_help(FILE *out, const struct dw_field *fields, int depth);

/* 1 when obj[name] is present and not null (a cross-field check after the
 * bind: "wait_timeout_s needs wait"). */
int dw_req_has(const cJSON *obj, const char *name);

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


#endif
