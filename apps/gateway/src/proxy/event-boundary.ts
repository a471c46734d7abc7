/**
 * The end of the last complete SSE event in `bytes` (index just past its blank line), or -1 if none is
 * complete. Forwarding only up to this point means the gateway never hands a client half an event, so it can
 * end a stream cleanly at any moment; an event is forwarded the instant its last line arrives.
 */
export function lastEventBoundary(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= 1; i--) {
    if (bytes[i] !== 10 && bytes[i] !== 13) continue;
    const previous = bytes[i - 1];
    // LF LF, CR CR, or CRLF CRLF (LF preceded by CR LF CR? check the four-byte form).
    if (bytes[i] === 10 && previous === 10) return i + 1;
    if (bytes[i] === 13 && previous === 13) return i + 1;
    if (bytes[i] === 10 && previous === 13 && i >= 3 && bytes[i - 2] === 10 && bytes[i - 3] === 13)
      return i + 1;
  }
  return -1;
}
