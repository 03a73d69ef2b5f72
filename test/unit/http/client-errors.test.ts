import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { clientErrorCode, handleClientError } from '../../../src/http/errors.ts';

const err = (code: string) => Object.assign(new Error(code), { code });

describe('client errors (before any route)', () => {
  it('maps the parser and timeout codes to BAD_REQUEST_LINE, HEADERS_TOO_LARGE and REQUEST_TIMEOUT', () => {
    expect(clientErrorCode(err('HPE_INVALID_METHOD'))).toBe('BAD_REQUEST_LINE');
    expect(clientErrorCode(err('HPE_HEADER_OVERFLOW'))).toBe('HEADERS_TOO_LARGE');
    expect(clientErrorCode(err('ERR_HTTP_REQUEST_TIMEOUT'))).toBe('REQUEST_TIMEOUT');
  });

  it('writes a 408 in the coded JSON shape and closes the socket', () => {
    const socket = { destroyed: false, writable: true, write: vi.fn(), destroy: vi.fn() };
    const app = { log: { info: vi.fn() } } as unknown as FastifyInstance;
    handleClientError.call(app, err('ERR_HTTP_REQUEST_TIMEOUT'), socket as unknown as Socket);
    const raw = String(socket.write.mock.calls[0][0]);
    expect(raw.startsWith('HTTP/1.1 408 Request Timeout\r\n')).toBe(true);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
    expect(socket.destroy).toHaveBeenCalled();
  });
});
