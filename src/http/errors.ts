/**
 * Every failure leaves the server as `{ error: { code, message, details? } }` with the status
 * of ERROR_TABLE. fastify's own errors (validation, bad JSON, body limit, media type) and
 * unknown routes are translated into coded errors here, so clients switch on one field.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_TABLE, XalmaError, errorSpec, isXalmaError } from '../errors.ts';

export const ERROR_SCHEMA_ID = 'Error';

/** The error body schema; `code` enumerates the whole table (tested against the spec). */
export const errorSchema = {
  $id: ERROR_SCHEMA_ID,
  type: 'object',
  description: 'Every error response. `code` is stable; `message` is for humans.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_TABLE).sort() },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

export const errorResponses = {
  '4xx': { $ref: `${ERROR_SCHEMA_ID}#` },
  '5xx': { $ref: `${ERROR_SCHEMA_ID}#` },
} as const;

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Maps anything thrown on the request path to a coded error. */
export function toXalmaError(err: unknown): XalmaError {
  if (isXalmaError(err)) return err;
  const e = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(e.validation) && e.validation.length > 0) return fromValidation(e.validation[0], e.validationContext ?? 'body');
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new XalmaError('BAD_JSON', e.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new XalmaError('BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new XalmaError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new XalmaError('INVALID_REQUEST', 'Content-Length does not match the body');
  }
  // secure-json-parse throws a plain SyntaxError with statusCode 400
  if (e instanceof SyntaxError && (e as { statusCode?: number }).statusCode === 400) return new XalmaError('BAD_JSON', e.message);
  const statusCode = (e as { statusCode?: unknown }).statusCode;
  const status = typeof statusCode === 'number' ? statusCode : 500;
  if (status === 429) return new XalmaError('RATE_LIMITED');
  if (status === 404) return new XalmaError('NOT_FOUND');
  if (status === 413) return new XalmaError('BODY_TOO_LARGE');
  if (status === 415) return new XalmaError('UNSUPPORTED_MEDIA_TYPE');
  if (status >= 400 && status < 500) return new XalmaError('INVALID_REQUEST', e.message);
  return new XalmaError('INTERNAL_ERROR', undefined, undefined, { cause: err });
}

function fromValidation(first: AjvError, context: string): XalmaError {
  const missing = first.keyword === 'required' ? String(first.params?.missingProperty ?? '') : '';
  const path = `${first.instancePath ?? ''}${missing ? `/${missing}` : ''}`;
  const details = { field: `${context}${path}`, reason: first.message ?? 'is invalid' };
  const detail = `${details.field} ${details.reason}`;
  if (context === 'body' && path === '/target' && missing) return new XalmaError('LANGUAGE_MISSING', undefined, details);
  if (context === 'body' && path.startsWith('/options')) return new XalmaError('OPTIONS_INVALID', detail, details);
  if (first.keyword === 'additionalProperties') {
    const extra = String(first.params?.additionalProperty ?? '');
    return new XalmaError('INVALID_REQUEST', `${details.field}/${extra} is not a known field`, { ...details, field: `${details.field}/${extra}`, reason: 'is not a known field' });
  }
  return new XalmaError('INVALID_REQUEST', detail, details);
}

export function errorBody(err: XalmaError): { error: { code: string; message: string; details?: Record<string, unknown> } } {
  return { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
}

export function sendError(reply: FastifyReply, err: XalmaError, retryAfterSeconds: number): FastifyReply {
  if (errorSpec(err.code).retryable) reply.header('retry-after', String(retryAfterSeconds));
  if (err.code === 'SHUTTING_DOWN') reply.header('connection', 'close');
  return reply.code(err.status).send(errorBody(err));
}

export function installErrorHandling(app: FastifyInstance, retryAfterSeconds: number): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const coded = toXalmaError(err);
    if (coded.status >= 500 && errorSpec(coded.code).log !== false) {
      request.log.error({ err, code: coded.code }, 'request failed');
    } else {
      request.log.info({ code: coded.code, status: coded.status }, coded.message);
    }
    return sendError(reply, coded, retryAfterSeconds);
  });
  app.setNotFoundHandler((request, reply) => {
    return sendError(reply, new XalmaError('NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`), retryAfterSeconds);
  });
}

/** Node's parser codes for what fails before a request exists (llhttp HPE_*, http server timeouts). */
export function clientErrorCode(err: NodeJS.ErrnoException): 'BAD_REQUEST_LINE' | 'HEADERS_TOO_LARGE' | 'REQUEST_TIMEOUT' {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'BAD_REQUEST_LINE';
}

/**
 * fastify's clientErrorHandler (Node's 'clientError' event): the request never reached a route,
 * so the answer is written on the socket by hand, in the same coded shape, and the connection
 * closed (the parser cannot go on after an error). As fastify's default: nothing is written to a
 * socket the peer reset or that already carries a response.
 */
export function handleClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const coded = new XalmaError(clientErrorCode(err));
  this.log.info({ code: coded.code, status: coded.status, parserCode: err.code }, coded.message);
  const sent = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !sent) {
    const body = JSON.stringify(errorBody(coded));
    socket.write(
      `HTTP/1.1 ${coded.status} ${STATUS_CODES[coded.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
