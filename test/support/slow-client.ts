/** A client that stalls mid-body: the slow-client (slowloris-style) case of the body timeout tests. */
import { connect } from 'node:net';

/** Sends the head and the first bytes of a body that claims 100; resolves with what came back once the server closed. */
export function stalledBody(host: string, port: number, path = '/v1/translate'): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = connect({ host, port }, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text":"hi"`);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.once('close', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), closedAfterMs: Date.now() - started }));
  });
}
