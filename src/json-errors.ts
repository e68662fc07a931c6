/** JSON parse errors as the daemon reports them. */

/**
 * JSON.parse's message quotes the text around the error, which may hold a secret
 * (an apisecret, a password): keep only where the error is.
 */
export function jsonErrorWithoutInput(err: Error): string {
  const position = /position (\d+)/.exec(err.message);
  if (position) return `not valid JSON at position ${position[1]}`;
  return /end of JSON input/i.test(err.message) ? 'the JSON ends too early' : 'not valid JSON';
}
