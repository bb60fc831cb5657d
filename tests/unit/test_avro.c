/* test_avro.c - the Avro encoder, container writer and reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/avro.h"

static const char schema[] =
	"{\"type\":\"record\",\"name\":\"t\",\"fields\":[{\"name\":\"n\",\"type\":\"long\"},"
	"{\"name\":\"s\",\"type\":[\"null\",\"string\"]}]}";

static void hex_equal(const struct dw_buf *b, const char *hex)
{
	char got[256] = "";

	for (size_t i = 0; i < b->len && 2 * i + 2 < sizeof(got); i++)
		snprintf(got + 2 * i, 3, "%02x", (unsigned char)b->data[i]);
	assert_string_equal(got, hex);
}

static void test_zigzag(void **state)
{
	static const struct { long long v; const char *hex; } cases[] = {
		{ 0, "00" }, { -1, "01" }, { 1, "02" }, { -2, "03" }, { 63, "7e" },
		{ -64, "7f" }, { 64, "8001" }, { 8192, "808001" },
		{ 1559401200000LL, "80e6efb8e25a" },
		{ INT64_MAX, "feffffffffffffffff01" }, { INT64_MIN, "ffffffffffffffffff01" },
	};
	struct dw_buf b;

	(void)state;
	dw_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dw_buf_clear(&b);
		dw_avro_put_long(&b, cases[i].v);
		hex_equal(&b, cases[i].hex);
		const unsigned char *p = (const unsigned char *)b.data;
		int64_t back = 0;
		assert_int_equal(dw_avro_get_long(&p, p + b.len, &back), 0);
		assert_true(back == cases[i].v);
		assert_ptr_equal(p, (const unsigned char *)b.data + b.len);
		/* one byte short: truncated */
		p = (const unsigned char *)b.data;
		assert_int_equal(dw_avro_get_long(&p, p + b.len - 1, &back), -1);
	}
	dw_buf_release(&b);
}

static void test_scalars(void **state)
{
	struct dw_buf b;

	(void)state;
	dw_buf_init(&b);
	dw_avro_put_string(&b, "on");
	hex_equal(&b, "046f6e");
	dw_buf_clear(&b);
	dw_avro_put_string(&b, "");
	hex_equal(&b, "00");
	dw_buf_clear(&b);
	dw_avro_put_double(&b, 52.52);
	hex_equal(&b, "c3f5285c8f424a40");
	dw_buf_clear(&b);
	dw_avro_put_float(&b, 1.5f);
	hex_equal(&b, "0000c03f");
	dw_buf_clear(&b);
	dw_avro_put_boolean(&b, 7);
	dw_avro_put_boolean(&b, 0);
	hex_equal(&b, "0100");
	dw_buf_release(&b);
}

static void test_decimal(void **state)
{
	static const struct { const char *text; int p, s; long long unscaled; const char *hex; } ok[] = {
		{ "123.45", 10, 2, 12345, "043039" },
		{ "-1", 5, 2, -100, "029c" },
		{ "0", 5, 2, 0, "0200" },
		{ "127", 3, 0, 127, "027f" },
		{ "128", 3, 0, 128, "040080" },
		{ "-128", 3, 0, -128, "0280" },
		{ "-129", 3, 0, -129, "04ff7f" },
		{ "1.5e2", 5, 1, 1500, "0405dc" },
		{ "0.10", 3, 1, 1, "0201" },
		{ "007.2", 3, 1, 72, "0248" },
	};
	static const struct { const char *text; int p, s; } bad[] = {
		{ "1.234", 10, 2 }, { "1000", 3, 0 }, { "abc", 5, 0 }, { "", 5, 0 },
		{ "1.2.3", 5, 2 }, { "12x", 5, 0 }, { "1e", 5, 0 }, { "99.995", 4, 2 },
	};
	struct dw_buf b;
	__int128 v;

	(void)state;
	dw_buf_init(&b);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(dw_avro_decimal_parse(ok[i].text, ok[i].p, ok[i].s, &v), 0);
		assert_true(v == ok[i].unscaled);
		dw_buf_clear(&b);
		dw_avro_put_decimal(&b, v);
		hex_equal(&b, ok[i].hex);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dw_avro_decimal_parse(bad[i].text, bad[i].p, bad[i].s, &v), -1);
	/* 38 digits: the widest decimal */
	assert_int_equal(dw_avro_decimal_parse("99999999999999999999999999999999999999", 38, 0, &v), 0);
	assert_int_equal(dw_avro_decimal_parse("999999999999999999999999999999999999999", 38, 0, &v), -1);
	dw_buf_release(&b);
}

/* A container of n records {n: i, s: i odd ? null : "value i"}. */
static void write_file(enum dw_avro_codec codec, int n, size_t block_bytes,
		       struct dw_buf *file, const char *source)
{
	const char *parts[] = { source, "vehicle" };
	unsigned char sync[DW_AVRO_SYNC_LEN];
	struct dw_avro_writer w;
	char text[32];

	dw_avro_sync_derive(parts, 2, sync);
	dw_avro_writer_init(&w, schema, codec, sync);
	w.block_bytes = block_bytes;
	for (int i = 0; i < n; i++) {
		dw_avro_put_long(&w.rec, i);
		if (i % 2) {
			dw_avro_put_long(&w.rec, 0);
		} else {
			dw_avro_put_long(&w.rec, 1);
			snprintf(text, sizeof(text), "value %d", i);
			dw_avro_put_string(&w.rec, text);
		}
		assert_int_equal(dw_avro_writer_end_record(&w), 0);
	}
	assert_int_equal(dw_avro_writer_finish(&w), 0);
	dw_buf_clear(file);
	dw_buf_append(file, w.out.data, w.out.len);
	dw_avro_writer_release(&w);
}

/* Read the file back: every record in order, in blocks. */
static void read_back(const struct dw_buf *file, enum dw_avro_codec codec, int n,
		      unsigned long long *blocks)
{
	struct dw_avro_reader r;
	int next = 0, rc;

	assert_int_equal(dw_avro_reader_open(&r, file->data, file->len), 0);
	assert_string_equal(r.schema, schema);
	assert_int_equal(r.codec, codec);
	while ((rc = dw_avro_reader_next(&r)) == 1) {
		const unsigned char *p = (const unsigned char *)r.block.data;
		const unsigned char *end = p + r.block.len;
		for (long i = 0; i < r.count; i++, next++) {
			int64_t v, branch, len;
			assert_int_equal(dw_avro_get_long(&p, end, &v), 0);
			assert_int_equal(v, next);
			assert_int_equal(dw_avro_get_long(&p, end, &branch), 0);
			assert_int_equal(branch, next % 2 ? 0 : 1);
			if (branch) {
				char want[32];
				snprintf(want, sizeof(want), "value %d", next);
				assert_int_equal(dw_avro_get_long(&p, end, &len), 0);
				assert_int_equal(len, (int64_t)strlen(want));
				assert_memory_equal(p, want, (size_t)len);
				p += len;
			}
		}
		assert_ptr_equal(p, end);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(next, n);
	*blocks = r.blocks;
	dw_avro_reader_release(&r);
}

static void test_roundtrip(void **state)
{
	struct dw_buf a, b;
	unsigned long long blocks;

	(void)state;
	dw_buf_init(&a);
	dw_buf_init(&b);
	for (int c = DW_AVRO_NULL; c <= DW_AVRO_SNAPPY; c++) {
		write_file((enum dw_avro_codec)c, 5000, 4096, &a, "bucket/key.json");
		read_back(&a, (enum dw_avro_codec)c, 5000, &blocks);
		assert_true(blocks > 10);
		/* deterministic: the same input gives the same bytes */
		write_file((enum dw_avro_codec)c, 5000, 4096, &b, "bucket/key.json");
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		/* another source, another sync marker */
		write_file((enum dw_avro_codec)c, 5000, 4096, &b, "bucket/other.json");
		assert_int_equal(a.len, b.len);
		assert_true(memcmp(a.data, b.data, a.len) != 0);
		/* an empty file is a header only */
		write_file((enum dw_avro_codec)c, 0, 0, &a, "x");
		read_back(&a, (enum dw_avro_codec)c, 0, &blocks);
		assert_int_equal(blocks, 0);
	}
	dw_buf_release(&a);
	dw_buf_release(&b);
}

/* Offset of the first block's data: after the header and two varints. */
static size_t first_block_data(const struct dw_buf *file)
{
	struct dw_avro_reader r;
	int64_t v;

	assert_int_equal(dw_avro_reader_open(&r, file->data, file->len), 0);
	const unsigned char *p = r.p;
	assert_int_equal(dw_avro_get_long(&p, r.end, &v), 0);
	assert_int_equal(dw_avro_get_long(&p, r.end, &v), 0);
	dw_avro_reader_release(&r);
	return (size_t)(p - (const unsigned char *)file->data);
}

static int read_all(const struct dw_buf *file)
{
	struct dw_avro_reader r;
	int rc;

	dw_error_clear();
	if (dw_avro_reader_open(&r, file->data, file->len)) {
		dw_avro_reader_release(&r);
		return -1;
	}
	while ((rc = dw_avro_reader_next(&r)) == 1)
		;
	dw_avro_reader_release(&r);
	return rc;
}

static void test_corrupt(void **state)
{
	struct dw_buf f;

	(void)state;
	dw_buf_init(&f);
	for (int c = DW_AVRO_DEFLATE; c <= DW_AVRO_SNAPPY; c++) {
		write_file((enum dw_avro_codec)c, 200, 0, &f, "k");
		assert_int_equal(read_all(&f), 0);
		size_t at = first_block_data(&f);
		/* a flipped byte inside the compressed data */
		f.data[at + 20] ^= 0x55;
		assert_int_equal(read_all(&f), -1);
		assert_string_equal(dw_error_last()->code, "AvroInvalid");
	}
	/* a wrong sync marker after a block */
	write_file(DW_AVRO_NULL, 10, 0, &f, "k");
	f.data[f.len - 1] ^= 1;
	assert_int_equal(read_all(&f), -1);
	assert_non_null(strstr(dw_error_last()->message, "sync marker"));
	/* truncated anywhere: an error, never a crash */
	write_file(DW_AVRO_SNAPPY, 50, 0, &f, "k");
	for (size_t cut = 0; cut + 1 < f.len; cut += 7) {
		struct dw_buf t;
		dw_buf_init(&t);
		dw_buf_append(&t, f.data, cut);
		assert_int_equal(read_all(&t), -1);
		dw_buf_release(&t);
	}
	/* not a container; unknown codec */
	dw_buf_clear(&f);
	dw_buf_puts(&f, "{\"on\": \"vehicle\"}");
	assert_int_equal(read_all(&f), -1);
	dw_buf_clear(&f);
	unsigned char sync[DW_AVRO_SYNC_LEN] = { 0 };
	dw_avro_put_header(&f, schema, DW_AVRO_NULL, sync);
	char *codec = memmem(f.data, f.len, "null", 4);
	assert_non_null(codec);
	memcpy(codec, "zstd", 4);
	assert_int_equal(read_all(&f), -1);
	assert_non_null(strstr(dw_error_last()->message, "codec"));
	dw_buf_release(&f);
}

static void test_codec_names(void **state)
{
	enum dw_avro_codec c;

	(void)state;
	assert_int_equal(dw_avro_codec_parse("snappy", &c), 0);
	assert_int_equal(c, DW_AVRO_SNAPPY);
	assert_int_equal(dw_avro_codec_parse("deflate", &c), 0);
	assert_int_equal(c, DW_AVRO_DEFLATE);
	assert_int_equal(dw_avro_codec_parse("gzip", &c), -1);
	assert_int_equal(dw_avro_codec_parse(NULL, &c), -1);
	assert_string_equal(dw_avro_codec_name(DW_AVRO_NULL), "null");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zigzag),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_codec_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
