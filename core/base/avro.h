/* dw/avro.h - Avro object container files, written and read by hand.
 *
 * Debian 12's libavro (1.11.1) rewrites the schema in the header and drops
 * logical types, so the container is done here; it is a small format
 * (https://avro.apache.org/docs/1.11.1/specification/#object-container-files):
 *
 *   "Obj" 0x01, a map of metadata (avro.schema: the schema, verbatim;
 *   avro.codec: null | deflate | snappy), a 16-byte sync marker, then blocks:
 *   a long record count, a long byte size, the (compressed) records, the
 *   sync marker again.  Deflate is raw RFC 1951 data; a snappy block is the
 *   snappy data followed by the 4-byte big-endian CRC-32 of the uncompressed
 *   data.
 *
 * The encoder functions append Avro binary values to a buffer; the writer
 * gathers records into blocks and blocks into a container; the reader
 * walks a container's header and blocks (tests, compaction, fuzzing). */
#ifndef DW_AVRO_H
#define DW_AVRO_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

enum dw_avro_codec { DW_AVRO_NULL, DW_AVRO_DEFLATE, DW_AVRO_SNAPPY };

#define DW_AVRO_SYNC_LEN 16
/* A block is closed once its records hold this many bytes (uncompressed):
 * big enough for deflate to do well, small enough for a reader's memory. */
#define DW_AVRO_BLOCK_BYTES (256u << 10)

/* "null", "deflate", "snappy" <-> the codec; -1 (nothing raised) when the
 * name is none of those. */
int dw_avro_codec_parse(const char *name, enum dw_avro_codec *out);
const char *dw_avro_codec_name(enum dw_avro_codec c);

/* ---- encoding (Avro binary) ---------------------------------------------- */

/* int and long: zigzag varints. */
void dw_avro_put_long(struct dw_buf *b, int64_t v);
/* bytes and string: a long length, then the bytes. */
void dw_avro_put_bytes(struct dw_buf *b, const void *data, size_t len);
void dw_avro_put_string(struct dw_buf *b, const char *s);
void dw_avro_put_double(struct dw_buf *b, double v);
void dw_avro_put_float(struct dw_buf *b, float v);
void dw_avro_put_boolean(struct dw_buf *b, int v);
/* A decimal (logical type over bytes): the unscaled value as big-endian
 * two's complement in as few bytes as hold it. */
void dw_avro_put_decimal(struct dw_buf *b, __int128 unscaled);
/* Decimal text ("-12.5", "3", "1e2") as an unscaled integer of the given
 * precision and scale: 0, or -1 (nothing raised) when it is no number,
 * needs more fraction digits than scale, or more than precision digits. */
int dw_avro_decimal_parse(const char *text, int precision, int scale,
			  __int128 *out);

/* Zigzag varint decoding: 0 with *v and *p moved on, -1 when the input
 * ends inside the number or it is longer than 10 bytes. */
int dw_avro_get_long(const unsigned char **p, const unsigned char *end,
		     int64_t *v);

/* ---- writing containers -------------------------------------------------- */

/* The sync marker of a file: the first 16 bytes of SHA-256 over the parts
 * (each followed by a NUL), so the same input always gives the same file. */
void dw_avro_sync_derive(const char *const *parts, size_t n,
			 unsigned char sync[DW_AVRO_SYNC_LEN]);

/* Append a container header to out. */
void dw_avro_put_header(struct dw_buf *out, const char *schema,
			enum dw_avro_codec codec,
			const unsigned char sync[DW_AVRO_SYNC_LEN]);
/* Append one block of count records (len bytes of encoded records) to out,
 * compressed with codec.  -1 with an error raised when compression fails. */
int dw_avro_put_block(struct dw_buf *out, enum dw_avro_codec codec,
		      const unsigned char sync[DW_AVRO_SYNC_LEN], long count,
		      const void *data, size_t len);

struct dw_avro_writer {
	struct dw_buf out;   /* the container so far: header and whole blocks */
	struct dw_buf rec;   /* the records of the block being filled */
	long count;          /* records in rec */
	enum dw_avro_codec codec;
	unsigned char sync[DW_AVRO_SYNC_LEN];
	size_t block_bytes;  /* 0: DW_AVRO_BLOCK_BYTES */
	unsigned long long records, blocks;
};

void dw_avro_writer_init(struct dw_avro_writer *w, const char *schema,
			 enum dw_avro_codec codec,
			 const unsigned char sync[DW_AVRO_SYNC_LEN]);
void dw_avro_writer_release(struct dw_avro_writer *w);
/* After a record was encoded into w->rec: count it, and close the block
 * when it is full.  -1 with an error raised when compression fails. */
int dw_avro_writer_end_record(struct dw_avro_writer *w);
/* Close the last block: w->out is then the whole file. */
int dw_avro_writer_finish(struct dw_avro_writer *w);

/* ---- reading containers -------------------------------------------------- */

struct dw_avro_reader {
	const unsigned char *p, *end; /* the unread rest of the file */
	char *schema;                 /* avro.schema, NUL-terminated */
	size_t schema_len;
	enum dw_avro_codec codec;
	unsigned char sync[DW_AVRO_SYNC_LEN];
	/* the last block read */
	long count;
	struct dw_buf block;          /* its records, uncompressed */
	unsigned long long blocks;
};

/* Read the header of len bytes of container.  -1 with an error raised
 * (DW_FAILED, code AvroInvalid) when it is not a container, the metadata
 * is malformed, the schema missing or the codec unknown.  The reader
 * points into data, which must outlive it. */
int dw_avro_reader_open(struct dw_avro_reader *r, const void *data, size_t len);
void dw_avro_reader_release(struct dw_avro_reader *r);
/* The next block into r->count and r->block: 1 when one was read, 0 at the
 * end of the file, -1 with an error raised (AvroInvalid) when the block is
 * truncated, its sync marker wrong, its data does not decompress or (snappy)
 * its CRC-32 does not match. */
int dw_avro_reader_next(struct dw_avro_reader *r);

#endif
