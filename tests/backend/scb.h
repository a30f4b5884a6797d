/*
 * scb.h - process-wide settings and limits of sc-test-backend, the Spark
 * Connect test server used by sparkgate's integration tests, benchmarks
 * and demo.  Module map:
 *
 *   scb_main.c    command line, listeners, signals, READY line
 *   scb_tls.c     SSL_CTX for the TLS listener (ALPN h2, client certs)
 *   scb_conn.c    one HTTP/2 connection: nghttp2 session, gRPC deframing,
 *                 response sending (zero-copy DATA frames, trailers)
 *   scb_rpc.c     the SparkConnectService methods and test controls
 *   scb_exec.c    ExecutePlan/ReattachExecute result streams, data pool
 *   scb_state.c   sessions, operations, per-session config and artifacts
 *   scb_record.c  JSON-lines record of everything received
 *   scb_pb.c      protobuf wire reader/writer
 *   scb_map.c     hash map;  scb_util.c  UUID, base64, CRC-32, ...
 */
#ifndef SCB_H
#define SCB_H

#include <stdint.h>

/* gRPC message limit, as Spark's spark.connect.grpc.maxInboundMessageSize */
#define SCB_MAX_MSG (128U * 1024 * 1024)
/* all request bytes buffered at once, over every stream of the process */
#define SCB_MAX_BUFFERED (512ULL * 1024 * 1024)
/* request header bytes per stream (names + values) */
#define SCB_MAX_HEADER_BYTES (64U * 1024)
/* sc-test-size limit */
#define SCB_MAX_TEST_SIZE (16U * 1024 * 1024)
/* --conf options */
#define SCB_MAX_CONFS 64

struct scb_cfg {
	const char *name;    /* x-sc-backend value */
	const char *version; /* AnalyzePlan spark_version */
	uint32_t max_streams;
	/* --conf KEY=VALUE: every new session starts with these confs, as a
	 * Spark server's static confs (checked by main(): '=' present, KEY
	 * not empty) */
	const char *confs[SCB_MAX_CONFS];
	size_t nconfs;
};

extern struct scb_cfg scb_cfg;

#endif /* SCB_H */
