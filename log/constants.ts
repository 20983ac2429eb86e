// Every limit of the storage engine in one place, with the unit in the name (TigerBeetle style).
// PartitionLogConfig may lower the per-log ones; the format-bound ones (u32 index fields, int32
// lengths) are hard ceilings that the config validator enforces.

/** Bytes before the length field counts: base offset (8) + batch length (4). Kafka's LOG_OVERHEAD. */
export const logOverheadBytes = 12;
/** Size of a RecordBatch v2 header up to and including the record count (no records). */
export const batchHeaderBytes = 61;

/** Largest batch (whole buffer, header included) accepted by append. Kafka's default is ~1 MiB. */
export const maxBatchBytesDefault = 8 * 1024 * 1024;
/** Hard ceiling for maxBatchBytes: a batch must fit a recovery read window. */
export const maxBatchBytesLimit = 64 * 1024 * 1024;

/** A segment is rolled once appending would take it past this many bytes. */
export const segmentBytesDefault = 256 * 1024 * 1024;
/** Positions in the offset index are u32 and Kafka keeps segment sizes in int32. */
export const segmentBytesLimit = 2 ** 31 - 1;
/** A segment older than this (by its first batch's max timestamp) is rolled. Kafka: 7 days. */
export const segmentMsDefault = 7 * 24 * 60 * 60 * 1000;

/** One offset/time index entry per this many log bytes (at most one per batch). Kafka: 4096. */
export const indexIntervalBytesDefault = 4096;
/** Offsets relative to a segment base live in u32 index fields; Kafka caps at int32. */
export const relativeOffsetMax = 2 ** 31 - 1;

/** Offsets are JS numbers: every offset (and offset + delta) must stay an exact integer. */
export const offsetMax = Number.MAX_SAFE_INTEGER;

/** Most bytes one read() returns (more only if a single batch is larger): bounds fetch memory. */
export const readBytesMax = 32 * 1024 * 1024;

/**
 * Bytes of one segment's appends queued for the threadpool (write-behind) past which append()
 * writes the waiting ones synchronously: bounds the memory a slow disk can pin per segment.
 */
export const tailQueuedBytesMax = 4 * 1024 * 1024;

/**
 * An append smaller than this, with nothing queued, is written synchronously: below it the
 * threadpool round trip costs more CPU than the page-cache copy it moves off the JS thread.
 */
export const writeBehindBytesMin = 32 * 1024;

/** Bytes read per pread when recovering or scanning a segment sequentially. */
export const scanChunkBytes = 4 * 1024 * 1024;
/** Bytes read per pread when walking headers (header-only scan, index lookups). */
export const headerWindowBytes = 64 * 1024;

/** Name of the recovery-point checkpoint file inside a partition directory. */
export const recoveryCheckpointFileName = 'recovery-point.checkpoint';
/** Upper bound for any small metadata file (checkpoint): refuse to parse anything larger. */
export const metadataFileBytesMax = 64 * 1024;

/** Width of the zero-padded base offset in segment file names (Kafka: 20 digits). */
export const segmentNameDigits = 20;
