/**
 * Preloaded (`node --import`) into the second Portkey process that only measures stream TTFB; the Portkey
 * process measured for latency, throughput and memory runs unmodified.
 *
 * Why: with the dependencies npm resolves today for @portkey-ai/gateway 1.15.2 (@hono/node-server 1.19.x),
 * every streamed chat completion fails with 500 "Something went wrong". Portkey wraps the upstream stream as
 * `new Response(readable, upstreamResponse)`; @hono/node-server's lightweight Response keeps the upstream
 * response's `headers` object as is, and that object comes from `fetch`, whose headers are immutable; Portkey
 * then appends its `x-portkey-*` headers and undici throws `TypeError: immutable`. Giving Portkey fetch
 * responses with ordinary (mutable) headers is the smallest change that lets its stream path run.
 */
const nativeFetch = globalThis.fetch;
const NativeResponse = globalThis.Response;

globalThis.fetch = async (input, init) => {
  const response = await nativeFetch(input, init);
  return new NativeResponse(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: new Headers(response.headers),
  });
};
