/** The error class SDKs expect for a status the gateway answers itself. */
export function errorClass(status: number, serverError: string): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 403) return 'permission_error';
  if (status >= 500) return serverError;
  return 'invalid_request_error';
}
