/** Why a connection list could not be loaded; `retry` tells whether trying again may help. */
export type ListErrorKind = 'unreachable' | 'version' | 'missing-table' | 'query' | 'invalid-config';

export class ListLoadError extends Error {
  constructor(readonly kind: ListErrorKind, message: string) {
    super(message);
  }

  get retry(): boolean {
    return this.kind === 'unreachable';
  }
}
