/* dw-avro - a test tool over the core's Avro container code, so that the
 * Python tests can check its files with independent readers (fastavro,
 * Apache avro), and a harness for fuzzing the reader.
 *
 *   dw-avro write CODEC N FILE   a sample file: N records of every type the
 *                                ETL writes (see tests/test_avro.py)
 *   dw-avro read FILE            walk the header and every block; prints
 *                                "blocks N records N codec C" or the error
 *                                (exit 1) */
#include "base/avro.h"
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sample_schema[] =
	"{\"type\": \"record\", \"name\": \"sample\", \"namespace\": \"dwops.test\", \"fields\": ["
	"{\"name\": \"id\", \"type\": \"long\"},"
	"{\"name\": \"name\", \"type\": [\"null\", \"string\"], \"default\": null},"
	"{\"name\": \"lat\", \"type\": [\"null\", \"double\"], \"default\": null},"
	"{\"name\": \"at\", \"type\": [\"null\", {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}], \"default\": null},"
	"{\"name\": \"day\", \"type\": [\"null\", {\"type\": \"int\", \"logicalType\": \"date\"}], \"default\": null},"
	"{\"name\": \"amount\", \"type\": [\"null\", {\"type\": \"bytes\", \"logicalType\": \"decimal\", \"precision\": 10, \"scale\": 2}], \"default\": null},"
	"{\"name\": \"ok\", \"type\": [\"null\", \"boolean\"], \"default\": null},"
	"{\"name\": \"ratio\", \"type\": [\"null\", \"float\"], \"default\": null}]}";

static void put_sample(struct dw_buf *b, long i)
{
	char name[64];

	dw_avro_put_long(b, i);
	if (i % 3 == 0) {
		dw_avro_put_long(b, 0);
	} else {
		snprintf(name, sizeof(name), "vehicle \"%ld\" \xc3\xa9", i);
		dw_avro_put_long(b, 1);
		dw_avro_put_string(b, name);
	}
	dw_avro_put_long(b, 1);
	dw_avro_put_double(b, 52.5 + (double)i / 1000.0);
	dw_avro_put_long(b, 1);
	dw_avro_put_long(b, 1559401200123LL + i * 1000);
	dw_avro_put_long(b, 1);
	dw_avro_put_long(b, 18048 + i % 3);
	dw_avro_put_long(b, 1);
	dw_avro_put_decimal(b, (__int128)(i * 125 - 1000));
	dw_avro_put_long(b, i % 4 == 0 ? 0 : 1);
	if (i % 4)
		dw_avro_put_boolean(b, (int)(i % 2));
	dw_avro_put_long(b, 1);
	dw_avro_put_float(b, (float)i / 4.0f);
}

static int write_sample(const char *codec_name, long n, const char *path)
{
	const char *base = strrchr(path, '/');
	const char *parts[] = { base ? base + 1 : path }; /* the name, not the folder */
	unsigned char sync[DW_AVRO_SYNC_LEN];
	enum dw_avro_codec codec;
	struct dw_avro_writer w;
	FILE *f;

	if (dw_avro_codec_parse(codec_name, &codec)) {
		fprintf(stderr, "dw-avro: unknown codec %s\n", codec_name);
		return 2;
	}
	dw_avro_sync_derive(parts, 1, sync);
	dw_avro_writer_init(&w, sample_schema, codec, sync);
	w.block_bytes = 4096; /* several blocks even for a small sample */
	for (long i = 0; i < n; i++) {
		put_sample(&w.rec, i);
		if (dw_avro_writer_end_record(&w))
			goto fail;
	}
	if (dw_avro_writer_finish(&w))
		goto fail;
	f = fopen(path, "wb");
	if (!f || fwrite(w.out.data, 1, w.out.len, f) != w.out.len || fclose(f)) {
		fprintf(stderr, "dw-avro: cannot write %s\n", path);
		dw_avro_writer_release(&w);
		return 1;
	}
	dw_avro_writer_release(&w);
	return 0;
fail:
	fprintf(stderr, "dw-avro: %s\n", dw_error_last()->message);
	dw_avro_writer_release(&w);
	return 1;
}

static int read_file(const char *path)
{
	struct dw_buf data;
	struct dw_avro_reader r;
	unsigned long long records = 0;
	char chunk[65536];
	size_t n;
	int rc;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "dw-avro: cannot open %s\n", path);
		return 2;
	}
	dw_buf_init(&data);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dw_buf_append(&data, chunk, n);
	fclose(f);
	rc = dw_avro_reader_open(&r, data.data, data.len);
	if (rc == 0)
		while ((rc = dw_avro_reader_next(&r)) == 1)
			records += (unsigned long long)r.count;
	if (rc == 0)
		printf("blocks %llu records %llu codec %s\n", r.blocks, records,
		       dw_avro_codec_name(r.codec));
	else
		printf("error %s: %s\n", dw_error_last()->code, dw_error_last()->message);
	dw_avro_reader_release(&r);
	dw_buf_release(&data);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "write") == 0)
		return write_sample(argv[2], atol(argv[3]), argv[4]);
	if (argc == 3 && strcmp(argv[1], "read") == 0)
		return read_file(argv[2]);
	fprintf(stderr, "usage: dw-avro write CODEC N FILE | dw-avro read FILE\n");
	return 2;
}
