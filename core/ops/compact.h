/* ops/compact.h - dw-etl compact: merge a partition folder's small Avro
 * files into files of up to target_bytes, under the dw-lock write lease.
 *
 * In each folder under the prefix, the .avro files smaller than the target
 * are grouped by (schema text, codec) -- files of different schemas or
 * codecs are never merged -- and packed in key order into bins of at most
 * target_bytes; every bin of two or more files becomes one file
 * "<folder>/compacted-<id>.avro".  Blocks are copied record bytes for
 * record bytes (re-blocked up to DW_AVRO_BLOCK_BYTES), so the records are
 * identical; the written file is read back and its record count and the
 * SHA-256 of its records checked against the inputs' before it is
 * uploaded.
 *
 * Crash safety, per bin, with a marker <prefix>/_compaction/<id>.json:
 *   1. marker {state: "writing", folder, inputs, output}
 *   2. the merged file
 *   3. marker {state: "committed", ...}
 *   4. the write lease and its fencing token are checked, then the inputs
 *      deleted
 *   5. the marker deleted
 * A run first finishes what markers left: "writing" -> the output (if any)
 * is deleted, the inputs were never touched; "committed" -> the inputs
 * still there are deleted.  So a re-run after a crash at any moment ends
 * with every record exactly once. */
#ifndef DW_COMPACT_H
#define DW_COMPACT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include "ops/lock.h"

struct dw_aws;

#define DW_COMPACT_MIN_MB 16
#define DW_COMPACT_MAX_MB 256
#define DW_COMPACT_DEFAULT_MB 128
#define DW_COMPACT_MARKERS "_compaction"

struct dw_compact_opts {
	const char *bucket;
	const char *prefix;          /* never empty */
	long long target_bytes;
	int dry_run;
	/* The write lease compaction runs under: checked (with its fencing
	 * token, lock->fence) before any input is deleted.  NULL: none. */
	const struct dw_lock_opts *lock;
	/* A lease compaction holds itself: renewed when due between steps
	 * (NULL: the lease is someone else's, e.g. dw-lock exec's). */
	struct dw_lock_lease *own_lease;
};

struct dw_compact_result {
	long partitions;             /* folders with .avro files */
	long groups;                 /* bins merged (or, dry run, to merge) */
	long files_in, files_out;    /* inputs merged, files written */
	long long bytes_in, bytes_out, records;
	long left_alone;             /* .avro files not merged */
	long recovered;              /* markers of interrupted runs finished */
	cJSON *plan;                 /* [{folder, output, inputs, bytes, schema_codec}] */
};

void dw_compact_result_init(struct dw_compact_result *r);
void dw_compact_result_release(struct dw_compact_result *r);

/* Plan and (unless dry run) merge.  -1 with the error raised; the result
 * counts what was done until then. */
int dw_compact_run(struct dw_aws *aws, const struct dw_compact_opts *o,
		   struct dw_compact_result *r);

/* The lease of a `dw-lock exec` parent, from DW_LOCK_* in the environment:
 * 1 filled (mode must be write), 0 none there, -1 (raised) not a write
 * lease. */
int dw_compact_lock_from_env(struct dw_lock_opts *o);

#endif
