export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** The database was written by a newer gateway: this one refuses to open it rather than misread it. */
export class StoreVersionError extends StoreError {
  constructor(
    readonly path: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `${path}: the store has schema version ${found}, newer than this gateway understands (${supported}); ` +
        'upgrade the gateway, or restore a backup of the store made by this version',
    );
    this.name = 'StoreVersionError';
  }
}

/** A member list was refused (duplicate cards, a count or hash that does not match): the list in force stays. */
export class MemberListError extends StoreError {
  constructor(message: string) {
    super(message);
    this.name = 'MemberListError';
  }
}
