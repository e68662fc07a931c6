/** Why a connection list could not be loaded; `fatal` tells whether trying again cannot help. */
export type ListErrorKind = 'unreachable' | 'version' | 'missing-table' | 'query' | 'invalid-config';

export class ListLoadError extends Error {
  constructor(
    readonly kind: ListErrorKind,
    message: string,
  ) {
    super(message);
  }

  /** Retrying cannot fix these: the table or the configuration must change. */
  get fatal(): boolean {
    return this.kind === 'version' || this.kind === 'missing-table' || this.kind === 'invalid-config';
  }
}
