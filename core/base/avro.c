/* avro.c - Avro object container files: binary encoding, blocks with the
 * null, deflate and snappy codecs, and a reader of headers and blocks. */
#include "base/avro.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const unsigned char magic[4] = { 'O', 'b', 'j', 1 };

static const char *const codec_names[] = {
	[DW_AVRO_NULL] = "null", [DW_AVRO_DEFLATE] = "deflate", [DW_AVRO_SNAPPY] = "snappy",
};

int dw_avro_codec_parse(const char *name, enum dw_avro_codec *out)
{
	for (int c = DW_AVRO_NULL; c <= DW_AVRO_SNAPPY; c++)
		if (name && strcmp(name, codec_names[c]) == 0) {
			*out = (enum dw_avro_codec)c;
			return 0;
		}
	return -1;
}

const char *dw_avro_codec_name(enum dw_avro_codec c)
{
	return codec_names[c];
}

/* ---- encoding ------------------------------------------------------------ */

void dw_avro_put_long(struct dw_buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0); /* zigzag */
	unsigned char tmp[10];
	size_t n = 0;

	while (z >= 0x80) {
		tmp[n++] = (unsigned char)(z | 0x80);
		z >>= 7;
	}
	tmp[n++] = (unsigned char)z;
	dw_buf_append(b, tmp, n);
}

void dw_avro_put_bytes(struct dw_buf *b, const void *data, size_t len)
{
	dw_avro_put_long(b, (int64_t)len);
	if (len)
		dw_buf_append(b, data, len);
}

void dw_avro_put_string(struct dw_buf *b, const char *s)
{
	dw_avro_put_bytes(b, s, strlen(s));
}

void dw_avro_put_double(struct dw_buf *b, double v)
{
	uint64_t u;
	unsigned char le[8];

	memcpy(&u, &v, 8);
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(u >> (8 * i));
	dw_buf_append(b, le, 8);
}

void dw_avro_put_float(struct dw_buf *b, float v)
{
	uint32_t u;
	unsigned char le[4];

	memcpy(&u, &v, 4);
	for (int i = 0; i < 4; i++)
		le[i] = (unsigned char)(u >> (8 * i));
	dw_buf_append(b, le, 4);
}

void dw_avro_put_boolean(struct dw_buf *b, int v)
{
	dw_buf_putc(b, v ? 1 : 0);
}

void dw_avro_put_decimal(struct dw_buf *b, __int128 unscaled)
{
	unsigned char be[16];
	int start = 0;

	for (int i = 0; i < 16; i++)
		be[15 - i] = (unsigned char)((unsigned __int128)unscaled >> (8 * i));
	/* Drop leading bytes that only repeat the sign of the next one. */
	while (start < 15 && ((be[start] == 0x00 && !(be[start + 1] & 0x80)) ||
			      (be[start] == 0xff && (be[start + 1] & 0x80))))
		start++;
	dw_avro_put_bytes(b, be + start, (size_t)(16 - start));
}

int dw_avro_decimal_parse(const char *text, int precision, int scale,
			  __int128 *out)
{
	const char *p = text;
	__int128 v = 0;
	int neg = 0, digits = 0, frac = 0, seen_dot = 0, any = 0;
	long exp = 0;

	if (!p || precision < 1 || precision > 38 || scale < 0 || scale > precision)
		return -1;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	for (;; p++) {
		if (*p == '.' && !seen_dot) {
			seen_dot = 1;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			break;
		any = 1;
		if (v == 0 && *p == '0' && !seen_dot)
			continue; /* leading zeros count for nothing */
		if (digits >= 38)
			return -1;
		v = v * 10 + (*p - '0');
		digits += v != 0 || digits > 0;
		frac += seen_dot;
	}
	if (!any)
		return -1;
	if (*p == 'e' || *p == 'E') {
		char *end;
		exp = strtol(p + 1, &end, 10);
		if (end == p + 1 || exp > 76 || exp < -76)
			return -1;
		p = end;
	}
	if (*p)
		return -1;
	/* value = v * 10^(exp - frac); we want v * 10^(scale - frac + exp). */
	long shift = scale - frac + exp;
	for (; shift < 0; shift++) {
		if (v % 10 != 0)
			return -1; /* more fraction digits than the scale holds */
		v /= 10;
	}
	for (; shift > 0; shift--) {
		if (v > ((__int128)1 << 125))
			return -1;
		v *= 10;
	}
	__int128 limit = 1;
	for (int i = 0; i < precision; i++)
		limit *= 10;
	if (v >= limit)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

int dw_avro_get_long(const unsigned char **p, const unsigned char *end,
		     int64_t *v)
{
	uint64_t z = 0;
	int shift = 0;

	for (const unsigned char *q = *p; q < end && shift < 70; q++, shift += 7) {
		z |= (uint64_t)(*q & 0x7f) << shift;
		if (!(*q & 0x80)) {
			*p = q + 1;
			*v = (int64_t)((z >> 1) ^ -(z & 1));
			return 0;
		}
	}
	return -1;
}

/* ---- writing ------------------------------------------------------------- */

void dw_avro_sync_derive(const char *const *parts, size_t n,
			 unsigned char sync[DW_AVRO_SYNC_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, "dwops-avro-sync", 16);
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	memcpy(sync, md, DW_AVRO_SYNC_LEN);
}

void dw_avro_put_header(struct dw_buf *out, const char *schema,
			enum dw_avro_codec codec,
			const unsigned char sync[DW_AVRO_SYNC_LEN])
{
	dw_buf_append(out, magic, sizeof(magic));
	dw_avro_put_long(out, 2);
	dw_avro_put_string(out, "avro.codec");
	dw_avro_put_string(out, codec_names[codec]);
	dw_avro_put_string(out, "avro.schema");
	dw_avro_put_string(out, schema);
	dw_avro_put_long(out, 0);
	dw_buf_append(out, sync, DW_AVRO_SYNC_LEN);
}

/* Raw deflate (no zlib header), as Avro's deflate codec wants. */
static int deflate_into(struct dw_buf *out, const void *data, size_t len)
{
	z_stream z = { 0 };
	int rc;

	if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return dw_fail("AvroCodec", "deflate: cannot initialise zlib");
	uLong bound = deflateBound(&z, (uLong)len);
	size_t at = out->len;
	out->data = dw_xrealloc(out->data, at + bound + 1);
	out->cap = at + bound + 1;
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data + at;
	z.avail_out = (uInt)bound;
	rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return dw_fail("AvroCodec", "deflate failed (zlib %d)", rc);
	out->len = at + z.total_out;
	out->data[out->len] = '\0';
	return 0;
}

static int snappy_into(struct dw_buf *out, const void *data, size_t len)
{
	size_t bound = snappy_max_compressed_length(len), n = bound, at = out->len;
	uLong crc = crc32(0L, (const Bytef *)data, (uInt)len);
	unsigned char be[4] = { (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
				(unsigned char)(crc >> 8), (unsigned char)crc };

	out->data = dw_xrealloc(out->data, at + bound + 5);
	out->cap = at + bound + 5;
	if (snappy_compress(data, len, out->data + at, &n) != SNAPPY_OK)
		return dw_fail("AvroCodec", "snappy compression failed");
	out->len = at + n;
	dw_buf_append(out, be, 4);
	return 0;
}

int dw_avro_put_block(struct dw_buf *out, enum dw_avro_codec codec,
		      const unsigned char sync[DW_AVRO_SYNC_LEN], long count,
		      const void *data, size_t len)
{
	struct dw_buf packed;
	int rc = 0;

	/* Blocks of up to 2 GiB: CRC-32 and zlib take 32-bit lengths. */
	if (len > 0x7fffffffu)
		return dw_fail("AvroBlockTooLarge", "an Avro block of %zu bytes is too large", len);
	dw_buf_init(&packed);
	if (codec == DW_AVRO_DEFLATE)
		rc = deflate_into(&packed, data, len);
	else if (codec == DW_AVRO_SNAPPY)
		rc = snappy_into(&packed, data, len);
	if (rc == 0) {
		const void *body = codec == DW_AVRO_NULL ? data : packed.data;
		size_t blen = codec == DW_AVRO_NULL ? len : packed.len;
		dw_avro_put_long(out, count);
		dw_avro_put_long(out, (int64_t)blen);
		if (blen)
			dw_buf_append(out, body, blen);
		dw_buf_append(out, sync, DW_AVRO_SYNC_LEN);
	}
	dw_buf_release(&packed);
	return rc;
}

void dw_avro_writer_init(struct dw_avro_writer *w, const char *schema,
			 enum dw_avro_codec codec,
			 const unsigned char sync[DW_AVRO_SYNC_LEN])
{
	memset(w, 0, sizeof(*w));
	dw_buf_init(&w->out);
	dw_buf_init(&w->rec);
	w->codec = codec;
	memcpy(w->sync, sync, DW_AVRO_SYNC_LEN);
	dw_avro_put_header(&w->out, schema, codec, sync);
}

void dw_avro_writer_release(struct dw_avro_writer *w)
{
	dw_buf_release(&w->out);
	dw_buf_release(&w->rec);
}

static int writer_flush(struct dw_avro_writer *w)
{
	if (w->count == 0)
		return 0;
	if (dw_avro_put_block(&w->out, w->codec, w->sync, w->count, w->rec.data, w->rec.len))
		return -1;
	w->blocks++;
	w->count = 0;
	dw_buf_clear(&w->rec);
	return 0;
}

int dw_avro_writer_end_record(struct dw_avro_writer *w)
{
	w->count++;
	w->records++;
	if (w->rec.len >= (w->block_bytes ? w->block_bytes : DW_AVRO_BLOCK_BYTES))
		return writer_flush(w);
	return 0;
}

int dw_avro_writer_finish(struct dw_avro_writer *w)
{
	return writer_flush(w);
}

/* ---- reading ------------------------------------------------------------- */

#define bad(...) dw_raise(DW_FAILED, "AvroInvalid", NULL, __VA_ARGS__)

/* A long length followed by that many bytes, inside the input. */
static int get_bytes(const unsigned char **p, const unsigned char *end,
		     const unsigned char **data, size_t *len)
{
	int64_t n;

	if (dw_avro_get_long(p, end, &n) || n < 0 || n > end - *p)
		return -1;
	*data = *p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

static int read_meta_entry(struct dw_avro_reader *r, int *have_schema)
{
	const unsigned char *k, *v;
	size_t kl, vl;

	if (get_bytes(&r->p, r->end, &k, &kl) || get_bytes(&r->p, r->end, &v, &vl))
		return bad("Avro header: truncated metadata");
	if (kl == 11 && memcmp(k, "avro.schema", 11) == 0) {
		free(r->schema);
		r->schema = dw_xstrndup((const char *)v, vl);
		r->schema_len = vl;
		*have_schema = 1;
	} else if (kl == 10 && memcmp(k, "avro.codec", 10) == 0) {
		char name[16] = "";
		if (vl < sizeof(name))
			memcpy(name, v, vl);
		if (dw_avro_codec_parse(name, &r->codec))
			return bad("Avro header: unknown codec \"%.*s\"", (int)(vl < 32 ? vl : 32),
				   (const char *)v);
	}
	return 0;
}

int dw_avro_reader_open(struct dw_avro_reader *r, const void *data, size_t len)
{
	int have_schema = 0;

	memset(r, 0, sizeof(*r));
	dw_buf_init(&r->block);
	r->p = data;
	r->end = r->p + len;
	r->codec = DW_AVRO_NULL;
	if (len < sizeof(magic) || memcmp(r->p, magic, sizeof(magic)) != 0)
		return bad("not an Avro object container file (no \"Obj\\1\" magic)");
	r->p += sizeof(magic);
	for (;;) {
		int64_t n;
		if (dw_avro_get_long(&r->p, r->end, &n))
			return bad("Avro header: truncated metadata");
		if (n == 0)
			break;
		if (n < 0) {
			/* A negative count is followed by the block's byte size. */
			int64_t size;
			if (dw_avro_get_long(&r->p, r->end, &size))
				return bad("Avro header: truncated metadata");
			n = -n;
		}
		for (int64_t i = 0; i < n; i++)
			if (read_meta_entry(r, &have_schema))
				return -1;
	}
	if (!have_schema)
		return bad("Avro header: no avro.schema");
	if (r->end - r->p < DW_AVRO_SYNC_LEN)
		return bad("Avro header: truncated sync marker");
	memcpy(r->sync, r->p, DW_AVRO_SYNC_LEN);
	r->p += DW_AVRO_SYNC_LEN;
	return 0;
}

void dw_avro_reader_release(struct dw_avro_reader *r)
{
	free(r->schema);
	r->schema = NULL;
	dw_buf_release(&r->block);
}

/* Avro readers hold a block whole; refuse to inflate beyond this. */
#define MAX_BLOCK (512u << 20)

static int inflate_block(struct dw_avro_reader *r, const unsigned char *data, size_t len)
{
	z_stream z = { 0 };
	unsigned char chunk[65536];
	int rc = Z_OK;

	if (inflateInit2(&z, -15) != Z_OK)
		return bad("deflate: cannot initialise zlib");
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END)
			break;
		dw_buf_append(&r->block, chunk, sizeof(chunk) - z.avail_out);
	} while (rc != Z_STREAM_END && r->block.len <= MAX_BLOCK);
	inflateEnd(&z);
	if (rc != Z_STREAM_END)
		return bad("Avro block %llu: deflate data is corrupt", r->blocks + 1);
	return 0;
}

static int unsnappy_block(struct dw_avro_reader *r, const unsigned char *data, size_t len)
{
	size_t n = 0;

	if (len < 4 || snappy_uncompressed_length((const char *)data, len - 4, &n) != SNAPPY_OK ||
	    n > MAX_BLOCK)
		return bad("Avro block %llu: snappy data is corrupt", r->blocks + 1);
	r->block.data = dw_xrealloc(r->block.data, n + 1);
	r->block.cap = n + 1;
	if (snappy_uncompress((const char *)data, len - 4, r->block.data, &n) != SNAPPY_OK)
		return bad("Avro block %llu: snappy data is corrupt", r->blocks + 1);
	r->block.len = n;
	r->block.data[n] = '\0';
	const unsigned char *c = data + len - 4;
	uLong want = (uLong)c[0] << 24 | (uLong)c[1] << 16 | (uLong)c[2] << 8 | c[3];
	if (crc32(0L, (const Bytef *)r->block.data, (uInt)n) != want)
		return bad("Avro block %llu: snappy CRC-32 mismatch", r->blocks + 1);
	return 0;
}

int dw_avro_reader_next(struct dw_avro_reader *r)
{
	const unsigned char *data;
	int64_t count;
	size_t len;
	int rc = 0;

	if (r->p == r->end)
		return 0;
	dw_buf_clear(&r->block);
	if (dw_avro_get_long(&r->p, r->end, &count) || count < 0 ||
	    get_bytes(&r->p, r->end, &data, &len))
		return bad("Avro block %llu: truncated", r->blocks + 1);
	if (r->end - r->p < DW_AVRO_SYNC_LEN || memcmp(r->p, r->sync, DW_AVRO_SYNC_LEN) != 0)
		return bad("Avro block %llu: sync marker does not match the header's",
			   r->blocks + 1);
	r->p += DW_AVRO_SYNC_LEN;
	if (r->codec == DW_AVRO_DEFLATE)
		rc = inflate_block(r, data, len);
	else if (r->codec == DW_AVRO_SNAPPY)
		rc = unsnappy_block(r, data, len);
	else
		dw_buf_append(&r->block, data, len);
	if (rc)
		return -1;
	r->count = (long)count;
	r->blocks++;
	return 1;
}
