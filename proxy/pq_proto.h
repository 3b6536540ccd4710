/*
 * pq_proto.h
 *	  Named codes and limits of the PostgreSQL frontend/backend protocol v3.
 *
 * Every message after the startup packet is: one type byte, an int32
 * length that counts itself and the body (never the type byte), the body.
 * The startup packet has no type byte: int32 length, int32 code, body.
 * Names follow PostgreSQL's src/include/libpq/protocol.h.
 */
#ifndef PQ_PROTO_H
#define PQ_PROTO_H

/* Frontend (client -> server) message types. */
#define PqMsg_Bind					'B'
#define PqMsg_Close					'C'
#define PqMsg_Describe				'D'
#define PqMsg_Execute				'E'
#define PqMsg_FunctionCall			'F'
#define PqMsg_Flush					'H'
#define PqMsg_Parse					'P'
#define PqMsg_Query					'Q'
#define PqMsg_Sync					'S'
#define PqMsg_Terminate				'X'
#define PqMsg_CopyFail				'f'
#define PqMsg_GSSResponse			'p'
#define PqMsg_PasswordMessage		'p'
#define PqMsg_SASLInitialResponse	'p'
#define PqMsg_SASLResponse			'p'

/* Backend (server -> client) message types. */
#define PqMsg_ParseComplete			'1'
#define PqMsg_BindComplete			'2'
#define PqMsg_CloseComplete			'3'
#define PqMsg_NotificationResponse	'A'
#define PqMsg_CommandComplete		'C'
#define PqMsg_DataRow				'D'
#define PqMsg_ErrorResponse			'E'
#define PqMsg_CopyInResponse		'G'
#define PqMsg_CopyOutResponse		'H'
#define PqMsg_EmptyQueryResponse	'I'
#define PqMsg_BackendKeyData		'K'
#define PqMsg_NoticeResponse		'N'
#define PqMsg_AuthenticationRequest 'R'
#define PqMsg_ParameterStatus		'S'
#define PqMsg_RowDescription		'T'
#define PqMsg_FunctionCallResponse	'V'
#define PqMsg_CopyBothResponse		'W'
#define PqMsg_ReadyForQuery			'Z'
#define PqMsg_NoData				'n'
#define PqMsg_PortalSuspended		's'
#define PqMsg_ParameterDescription	't'
#define PqMsg_NegotiateProtocolVersion 'v'

/* Both directions. */
#define PqMsg_CopyData				'd'
#define PqMsg_CopyDone				'c'

/* AuthenticationRequest subcodes. */
#define AUTH_REQ_OK					0
#define AUTH_REQ_PASSWORD			3
#define AUTH_REQ_MD5				5
#define AUTH_REQ_SASL				10
#define AUTH_REQ_SASL_CONT			11
#define AUTH_REQ_SASL_FIN			12

/* Startup packet codes. */
#define PQ_PROTOCOL(major, minor)	(((major) << 16) | (minor))
#define PQ_PROTOCOL_MAJOR(v)		((v) >> 16)
#define PQ_PROTOCOL_MINOR(v)		((v) & 0xffff)
#define PQ_PROTOCOL_LATEST			PQ_PROTOCOL(3, 0)
#define PQ_CANCEL_REQUEST_CODE		PQ_PROTOCOL(1234, 5678)
#define PQ_SSL_REQUEST_CODE			PQ_PROTOCOL(1234, 5679)
#define PQ_GSSENC_REQUEST_CODE		PQ_PROTOCOL(1234, 5680)

/* Transaction status in ReadyForQuery. */
#define PQ_TXN_IDLE					'I'
#define PQ_TXN_BLOCK				'T'
#define PQ_TXN_FAILED				'E'

/* Length limits (the int32 length field, which counts itself). */
#define PQ_HEADER_LEN				5		/* type byte + int32 length */
#define PQ_MIN_LEN					4
#define PQ_SMALL_MESSAGE_LIMIT		10000	/* as PostgreSQL's postgres.c */
#define PQ_LARGE_MESSAGE_LIMIT		0x3ffffffe	/* MaxAllocSize - 1 */
#define PQ_AUTH_MESSAGE_LIMIT		8192	/* SASL and password messages */
#define PQ_STARTUP_MIN_LEN			8
#define PQ_STARTUP_MAX_LEN			10000	/* MAX_STARTUP_PACKET_LENGTH */
#define PQ_STARTUP_MAX_PARAMS		64
#define PQ_CANCEL_REQUEST_LEN		16

/* SQLSTATEs the node itself raises. */
#define PQ_SQLSTATE_PROTOCOL_VIOLATION		"08P01"
#define PQ_SQLSTATE_CONNECTION_FAILURE		"08006"
#define PQ_SQLSTATE_CANNOT_CONNECT			"08001"
#define PQ_SQLSTATE_INVALID_AUTH_SPEC		"28000"
#define PQ_SQLSTATE_INVALID_PASSWORD		"28P01"
#define PQ_SQLSTATE_TOO_MANY_CONNECTIONS	"53300"
#define PQ_SQLSTATE_FEATURE_NOT_SUPPORTED	"0A000"
#define PQ_SQLSTATE_ADMIN_SHUTDOWN			"57P01"
#define PQ_SQLSTATE_QUERY_CANCELED			"57014"
#define PQ_SQLSTATE_IDLE_SESSION_TIMEOUT	"57P05"
#define PQ_SQLSTATE_CHARACTER_NOT_IN_REPERTOIRE "22021"
#define PQ_SQLSTATE_INTERNAL_ERROR			"XX000"

#endif							/* PQ_PROTO_H */
