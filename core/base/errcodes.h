/* base/errcodes.h - the registry of dwops's own error codes.
 *
 * Every code dwops raises itself is listed here, once: its name (what
 * error.code says), the exit code(s) it leads to, and what it means.  AWS's
 * own codes (NoSuchBucket, ThrottlingException, ...) are not: they pass
 * through from the servers as they are (dw_raise_passthrough).
 *
 * The README's "Error codes" table lists exactly these rows, and
 * scripts/check-errcodes.py (run by make lint and make test) fails when a
 * raise site (dw_raise, dw_fail, an error struct's .code) names a code that
 * is not registered here, when its kind disagrees with the exit codes
 * registered, or when the README and this table differ.  dw_invalid()
 * raises InvalidRequest.
 *
 * X(name, exit codes, meaning): exit codes as the README shows them
 * (2 rejected, 1 failed, 75 temporary). */
#ifndef DW_ERRCODES_H
#define DW_ERRCODES_H

#define DW_ERRCODES(X)                                                          \
	/* the request */                                                       \
	X(InvalidRequest, "2", "the request is wrong: an unknown or repeated field, a wrong type, a value out of bounds, a missing action (error.field names the field)") \
	X(InvalidJSON, "2", "the request is not valid JSON (the message says where, as line and column, never quoting it)") \
	X(DuplicateKey, "2", "the request holds a key twice in one object (error.field names it by path, e.g. user.password)") \
	X(RequestTooLarge, "2", "the request is larger than 4 MiB") \
	X(NoCredentials, "2", "no AWS credentials in the environment, the profile, the container or the instance metadata") \
	X(NotManaged, "2", "the instance or Aurora cluster lacks the managed-by=dwops tag (or is a member of another cluster), or the Glue table or view the dwops_managed parameter: dwops never touches it") \
	X(NotOwner, "2", "the copy belongs to another owner; only its owner, or an admin with as_admin, may change it") \
	X(PlanChanged, "2", "the plan (dw-cleanup, dw-catalog) differs from the reviewed one (expect_plan, its plan_hash); nothing was changed") \
	X(TooManyDeletions, "2", "the plan (dw-cleanup, dw-catalog) holds more deletions than max_deletions; nothing was deleted") \
	/* talking to AWS */                                                    \
	X(NetworkError, "75", "an AWS endpoint could not be reached, on every attempt") \
	X(RequestTimeout, "75", "an AWS call took longer than timeout_s, on every attempt") \
	X(InvalidResponse, "1", "an AWS answer lacks what its API promises (not XML or JSON, a field missing, a listing page truncated without a continuation token)") \
	X(ResponseTooLarge, "1", "an AWS answer's body is larger than 64 MiB after decompression; not read further, not retried") \
	X(NoMemory, "1", "out of memory while building a request") \
	X(RandomFailed, "1", "no random bytes for an idempotency token") \
	X(InternalError, "1", "a state dwops believed impossible (the message says which); please report it") \
	/* waiting */                                                           \
	X(WaitTimeout, "75", "a wait (a copy, an export task, a crawler, an Athena query, a lock, a table) did not end within its time limit; run again to keep waiting") \
	X(Canceled, "1", "a job dwops waited on was cancelled (an RDS export task, a Glue crawl); the message says which and why") \
	/* dw-snapshot */                                                       \
	X(SnapshotNotFound, "1", "the source instance has no available automated snapshot") \
	X(DBSnapshotNotFound, "1", "the snapshot named in the request does not exist") \
	X(SnapshotNotAvailable, "1", "the snapshot named in the request is not available (yet)") \
	X(DBInstanceNotFound, "1", "the instance does not exist") \
	X(SourceNotAvailable, "1", "the source Aurora cluster is missing, not available, or has no instance: a clone of it is refused, nothing was made") \
	X(CopyExists, "2", "the owner's copy exists already as another kind (an RDS instance copy, an Aurora clone, an Aurora snapshot restore) than the launch asks for; destroy it or choose another instance_name") \
	X(CopyFailed, "1", "the copy reached a state it never leaves by itself (failed, incompatible-..., storage-full)") \
	X(NoEndpoint, "1", "the copy has no endpoint to connect to") \
	X(SecretNotString, "1", "the Secrets Manager secret has no SecretString") \
	X(SecretNotLogin, "1", "the secret is not JSON with string username and password (or names a key twice)") \
	X(MySQLError, "1", "a MySQL statement or connection failed (MySQL's message and error number follow)") \
	X(SSHError, "1", "the SSH tunnel could not be set up (resolve, connect, handshake, authenticate, forward)") \
	X(SSHHostKeyMismatch, "1", "the bastion's host key differs from known_hosts_file: refused") \
	X(SSHHostKeyUnknown, "1", "the bastion is not in known_hosts_file: refused") \
	/* dw-fanout */                                                         \
	X(SendFailed, "1, 75", "some messages could not be sent (see result.failures); 75 when only retries ran out") \
	X(NoObjects, "1", "an hour had no objects and empty is fail") \
	/* dw-ddl */                                                            \
	X(QueryFailed, "1", "an Athena query ended FAILED or CANCELLED (Athena's reason follows)") \
	X(NoFiles, "1", "no sample files under the location to infer the columns from") \
	X(NothingInferred, "1", "the sample files hold no records to infer the columns from") \
	X(TooManyColumns, "1", "the sample files hold more distinct keys than a table may have columns (20,000 paths): too wide to infer") \
	X(NotAvro, "1", "a sample file is not an Avro container with a record schema") \
	X(Compressed, "1", "a sample file is compressed; inference reads uncompressed files") \
	X(ZipFailed, "1", "the zip bundle of statements could not be written") \
	/* dw-export */                                                         \
	X(BadSnapshotTime, "1", "the snapshot has no usable creation time to name the export by") \
	X(ExportTaskConflict, "1", "an export task of that id exists but exports something else") \
	X(ExportTaskNotFound, "1", "there is no export task of that id (run start first)") \
	X(ExportFailed, "1", "the export task ended FAILED (RDS's cause follows)") \
	X(ExportNotComplete, "1", "promote was asked for an export that is not COMPLETE") \
	X(SourceEmpty, "1", "the export's folder holds nothing to promote") \
	X(NewerInPlace, "1", "main_prefix holds a newer export than the one to promote: not replaced") \
	X(BadMarker, "1", "the marker under main_prefix is not the JSON dwops writes") \
	X(DeleteFailed, "1", "some objects could not be deleted (the first is named)") \
	X(TooManyKeys, "1", "more than 1000 keys for one DeleteObjects call") \
	X(CrawlFailed, "1", "the Glue crawl failed (Glue's message follows)") \
	X(BadTablesInfo, "1", "an export_tables_info file is not JSON") \
	X(TableNameClash, "1", "two export folders would make the same Glue table") \
	X(NoTables, "1", "no <database>/<schema.table>/ folders under main_prefix (promote first)") \
	/* dw-cleanup */                                                        \
	X(CleanupIncomplete, "1", "some deletions failed (see the failed items); the others were done") \
	/* dw-etl */                                                            \
	X(NoDateInKey, "1", "the file name holds no date and date_from is key") \
	X(UnknownKind, "1", "a record's kind has no mapping and unknown is fail") \
	X(AllLinesBad, "1", "none of the file's lines is a JSON object") \
	X(BadMessage, "1", "a queue message is neither an S3 notification nor a key") \
	X(AvroCodec, "1", "Avro block compression failed") \
	X(AvroBlockTooLarge, "1", "an Avro block is too large to write") \
	X(AvroInvalid, "1", "an Avro file is malformed") \
	X(FilesFailed, "1, 75", "some files could not be transformed or written (see result.failures); 75 when only retries ran out") \
	X(MessagesFailed, "1, 75", "some queue messages failed and were left on the queue for another try (see result.failures); 75 when only retries ran out") \
	X(RuntimeApiUnreachable, "75", "the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) did not answer") \
	X(RuntimeApiError, "1", "the Lambda Runtime API refused a call") \
	X(RedriveFailed, "1", "some dead letters could not be sent back; they stay in the dead-letter queue") \
	X(TooManyEntries, "1", "more than 10 entries for one SQS batch call") \
	/* dw-lock */                                                           \
	X(InvalidLockItem, "1", "the lock item is not one dw-lock wrote (is the table used by something else?)") \
	X(LockContention, "75", "too many conflicting writes in a row on the lock item") \
	X(LeaseLost, "1", "the lease was lost (expired or broken) while held") \
	X(ExecFailed, "1", "the command to run under the lock could not be started") \
	X(CommandFailed, "1, N", "dw-lock exec: the command exited non-zero (or was killed); dw-lock exits with its code N (128+signal)") \
	/* dw-etl compact */                                                    \
	X(InputChanged, "1", "an input file of a merge changed while compaction ran (schema or codec): nothing of it was deleted") \
	X(VerifyFailed, "1", "a merged file read back does not hold exactly the inputs' records: the inputs were kept") \
	/* dw-catalog */                                                        \
	X(BreakingChange, "2", "the catalog plan holds a breaking change (a removed column, a narrowed type, a deletion, a view moved) and allow_breaking was not given; nothing was changed") \
	X(Drift, "2", "a managed table or view was changed in Glue since dwops wrote it and overwrite_drift was not given; nothing was changed") \
	X(MissingColumn, "2", "a view selects a column its table does not have; nothing was changed") \
	X(IncompatibleColumn, "2", "a remap's new table has a column a view shows with a narrower type; nothing was changed") \
	X(TableNotFound, "2", "the table a remap points views at is not in Glue") \
	X(ViewNotFound, "2", "a view to remap is not in Glue yet (apply the model first)") \
	X(NoViews, "2", "no view of the model selects from the logical table given") \
	X(ConcurrentModification, "75", "a Glue table or view was changed by someone else while applying (its VersionId moved); plan again") \
	X(ApplyIncomplete, "1", "some of the catalog plan's changes failed (see the failed items); later phases were not started") \
	X(BreakingChangesPending, "1", "skip_breaking: the plan's non-breaking changes were applied, its breaking ones left for a reviewed apply") \
	X(RemapRolledBack, "1", "a view could not be switched to the new table; the views switched before it were put back") \
	/* dw-alert */                                                          \
	X(InvalidStateItem, "1", "a dw-alert state item (a scan checkpoint) is not one dw-alert wrote (is the table used by something else?)") \
	X(CheckpointConflict, "1", "another dw-alert scan of the same log group and name moved the checkpoint meanwhile; the incidents found were published, run again") \
	X(AlertsNotSent, "1, 75", "dw-alert deliver: some alerts were not mailed (SES refused them; 75 when it throttled or could not be reached); their messages stay in the queue") \
	X(AirflowUnreachable, "75", "the Airflow REST API did not answer, or answered 5xx") \
	X(AirflowAuthFailed, "2", "the Airflow REST API refused the credentials (401, 403)") \
	X(AirflowApiError, "1", "the Airflow REST API answered a call with another error, or with something that is not JSON") \
	/* dw-extract */                                                        \
	X(WatermarkConflict, "1", "the watermark was written by someone else meanwhile (the SSM version is not the one read plus one, or the DynamoDB item's version moved); nothing past the last page was sent") \
	X(WatermarkInvalid, "1", "the stored watermark is not one dw-extract wrote (its cursor or tiebreak cannot be read)") \
	X(Locked, "75", "another run holds the table's write lease (dw-extract run, reset); run again later, or give lock.wait_timeout_s") \
	X(RecordTooLarge, "1", "a record is larger than the sink takes (Kinesis 1 MiB with its key, Firehose 1000 KiB); nothing of its page was sent")

/* 1 when name is a registered dwops code, 0 otherwise (an AWS code). */
int dw_errcode_registered(const char *name);

#endif
