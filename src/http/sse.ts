/**
 * `"stream": true` on POST /v1/translate: server-sent events. While rows generate, `delta`
 * events carry each text's output in order (`{"index", "text"}`: append to what came before);
 * a final `done` event carries the same fields as the JSON response; an error after the stream
 * began is an `error` event with the usual error body. An error before the first delta (a bad
 * language, a full queue) is the usual JSON error with its status: no stream is opened for it.
 * Closing the connection aborts the request's rows at the engine's next step.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, toXalmaError } from './errors.ts';
import type { TranslatedItem } from './translate-service.ts';
import { runTranslation, type TranslationAsk, type TranslationRunDeps } from './translation-run.ts';

export async function streamTranslation(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: TranslationRunDeps,
  ask: TranslationAsk,
  respond: (translations: TranslatedItem[]) => unknown,
): Promise<FastifyReply> {
  const out = new PassThrough();
  const event = (name: string, data: unknown) => out.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  const streamed = ask.texts.map(() => '');
  let began!: () => void;
  const firstDelta = new Promise<'streaming'>((resolve) => (began = () => resolve('streaming')));
  const onText = (index: number, text: string) => {
    streamed[index] += text;
    event('delta', { index, text });
    began();
  };
  const run = runTranslation(request, reply, deps, { ...ask, onText });
  const finish = (translations: TranslatedItem[]) => {
    // Texts that produced no deltas (cache hits, source = target) or whose last piece is still due.
    translations.forEach((t, index) => {
      if (t.text.length > streamed[index].length && t.text.startsWith(streamed[index])) event('delta', { index, text: t.text.slice(streamed[index].length) });
    });
    event('done', respond(translations));
    out.end();
  };
  // Errors until the first delta reject here and get the normal JSON error response.
  const first = await Promise.race([firstDelta, run]);
  if (first !== 'streaming') finish(first);
  else {
    run.then(finish, (err: unknown) => {
      const coded = toXalmaError(err);
      request.log.info({ code: coded.code }, 'stream ended by an error');
      event('error', errorBody(coded));
      out.end();
    });
  }
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    // Proxies (nginx) must pass events through as they come.
    .header('x-accel-buffering', 'no')
    .send(out);
}
