/** One Server-Sent Events frame as a browser's EventSource would parse it, with when it arrived. */
export interface SseFrame {
  id?: string;
  event: string;
  data: string;
  at: number;
}

/** Reads a text/event-stream response into frames as they arrive. */
export function readFrames(body: ReadableStream<Uint8Array>): {
  frames: SseFrame[];
  retry: number[];
  done: Promise<void>;
} {
  const frames: SseFrame[] = [];
  const retry: number[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const done = (async () => {
    const reader = body.getReader();
    for (;;) {
      const { value, done: finished } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (finished) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: SseFrame = { event: 'message', data: '', at: Date.now() };
        let hasData = false;
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'retry') retry.push(Number(value));
          else if (field === 'id') frame.id = value;
          else if (field === 'event') frame.event = value;
          else if (field === 'data') {
            frame.data += (hasData ? '\n' : '') + value;
            hasData = true;
          }
        }
        if (hasData) frames.push(frame);
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  return { frames, retry, done };
}
